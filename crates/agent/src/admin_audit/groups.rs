//! The audit of group changes: DeleteGroups (one line per group) and OffsetDelete (one line per partition
//! whose committed offset the request deletes; a refusal of the whole group answers each of them).

use super::{Audited, Line, Planned, pair};
use kafka_protocol::messages::*;
use weft_audit::Change;

const GROUP: &str = "GROUP";

impl Audited for DeleteGroupsRequest {
    type Response = DeleteGroupsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "DeleteGroups";

    fn plan(&self) -> Vec<Planned> {
        self.groups_names.iter().map(|g| Planned::new(g.as_str(), GROUP, g, Change::DeleteGroup)).collect()
    }

    fn lines(plan: Vec<Planned>, response: &DeleteGroupsResponse) -> Vec<Line> {
        pair(plan, response.results.iter().map(|r| (r.group_id.to_string(), r.error_code)).collect())
    }
}

impl Audited for OffsetDeleteRequest {
    type Response = OffsetDeleteResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "OffsetDelete";

    fn plan(&self) -> Vec<Planned> {
        let mut plan = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                let change = Change::DeleteOffset { topic: t.name.to_string(), partition: p.partition_index };
                plan.push(Planned::new(
                    format!("{}/{}", t.name.as_str(), p.partition_index),
                    GROUP,
                    &self.group_id,
                    change,
                ));
            }
        }
        plan
    }

    fn lines(plan: Vec<Planned>, response: &OffsetDeleteResponse) -> Vec<Line> {
        if response.error_code != 0 {
            let code = response.error_code;
            return plan
                .into_iter()
                .map(|p| Line {
                    resource_type: p.resource_type,
                    resource_name: p.resource_name,
                    change: p.change,
                    code,
                })
                .collect();
        }
        let answered = response
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| (format!("{}/{}", t.name.as_str(), p.partition_index), p.error_code))
            })
            .collect();
        pair(plan, answered)
    }
}
