//! The audit of group changes: DeleteGroups (one line per group), OffsetDelete and AlterShareGroupOffsets
//! (one line per partition whose offset the request deletes or sets), DeleteShareGroupOffsets (one line per
//! topic); a refusal of the whole group answers each of them.

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
            return all_refused(plan, response.error_code);
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

/// Every planned change answered by the group-level `code`.
fn all_refused(plan: Vec<Planned>, code: i16) -> Vec<Line> {
    plan.into_iter()
        .map(|p| Line { resource_type: p.resource_type, resource_name: p.resource_name, change: p.change, code })
        .collect()
}

impl Audited for AlterShareGroupOffsetsRequest {
    type Response = AlterShareGroupOffsetsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "AlterShareGroupOffsets";

    fn plan(&self) -> Vec<Planned> {
        let mut plan = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                let change = Change::AlterShareOffset {
                    topic: t.topic_name.to_string(),
                    partition: p.partition_index,
                    start_offset: p.start_offset,
                };
                let key = format!("{}/{}", t.topic_name.as_str(), p.partition_index);
                plan.push(Planned::new(key, GROUP, &self.group_id, change));
            }
        }
        plan
    }

    fn lines(plan: Vec<Planned>, response: &AlterShareGroupOffsetsResponse) -> Vec<Line> {
        if response.error_code != 0 {
            return all_refused(plan, response.error_code);
        }
        let answered = response
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| (format!("{}/{}", t.topic_name.as_str(), p.partition_index), p.error_code))
            })
            .collect();
        pair(plan, answered)
    }
}

impl Audited for DeleteShareGroupOffsetsRequest {
    type Response = DeleteShareGroupOffsetsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "DeleteShareGroupOffsets";

    fn plan(&self) -> Vec<Planned> {
        self.topics
            .iter()
            .map(|t| {
                let change = Change::DeleteShareOffsets { topic: t.topic_name.to_string() };
                Planned::new(t.topic_name.as_str(), GROUP, &self.group_id, change)
            })
            .collect()
    }

    fn lines(plan: Vec<Planned>, response: &DeleteShareGroupOffsetsResponse) -> Vec<Line> {
        if response.error_code != 0 {
            return all_refused(plan, response.error_code);
        }
        pair(plan, response.responses.iter().map(|t| (t.topic_name.to_string(), t.error_code)).collect())
    }
}
