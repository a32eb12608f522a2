//! The audit of topic changes: CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords.

use super::{Audited, Line, Planned, pair};
use kafka_protocol::messages::*;
use weft_audit::{Change, ConfigChange};

const TOPIC: &str = "TOPIC";

impl Audited for CreateTopicsRequest {
    type Response = CreateTopicsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "CreateTopics";

    fn plan(&self) -> Vec<Planned> {
        self.topics
            .iter()
            .map(|t| {
                let configs = t.configs.iter().map(|c| ConfigChange::new(&c.name, "set", c.value.as_deref())).collect();
                let partitions = if t.assignments.is_empty() { t.num_partitions } else { t.assignments.len() as i32 };
                let change = Change::CreateTopic { partitions, replication_factor: t.replication_factor, configs };
                Planned::new(t.name.as_str(), TOPIC, &t.name, change)
            })
            .collect()
    }

    fn validate_only(&self) -> bool {
        self.validate_only
    }

    fn lines(plan: Vec<Planned>, response: &CreateTopicsResponse) -> Vec<Line> {
        pair(plan, response.topics.iter().map(|t| (t.name.to_string(), t.error_code)).collect())
    }
}

impl Audited for DeleteTopicsRequest {
    type Response = DeleteTopicsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "DeleteTopics";

    /// Keyed by position: a topic named by id has its name only in the response (if the client may see
    /// it), and the handler answers every target in order.
    fn plan(&self) -> Vec<Planned> {
        let by_name = self.topic_names.iter().map(|n| (Some(n.to_string()), None));
        let by_state = self.topics.iter().map(|t| {
            let id = (!t.topic_id.is_nil()).then(|| t.topic_id.to_string());
            (t.name.as_ref().map(|n| n.to_string()), id)
        });
        by_name
            .chain(by_state)
            .enumerate()
            .map(|(i, (name, topic_id))| {
                Planned::new(i.to_string(), TOPIC, name.as_deref().unwrap_or(""), Change::DeleteTopic { topic_id })
            })
            .collect()
    }

    fn lines(plan: Vec<Planned>, response: &DeleteTopicsResponse) -> Vec<Line> {
        let named: Vec<Option<String>> =
            response.responses.iter().map(|r| r.name.as_ref().map(|n| n.to_string())).collect();
        let answered = response.responses.iter().enumerate().map(|(i, r)| (i.to_string(), r.error_code)).collect();
        let mut lines = pair(plan, answered);
        for (line, name) in lines.iter_mut().zip(named) {
            if let (true, Some(name)) = (line.resource_name.is_empty(), name) {
                line.resource_name = name;
            }
        }
        lines
    }
}

impl Audited for CreatePartitionsRequest {
    type Response = CreatePartitionsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "CreatePartitions";

    fn plan(&self) -> Vec<Planned> {
        self.topics
            .iter()
            .map(|t| Planned::new(t.name.as_str(), TOPIC, &t.name, Change::CreatePartitions { count: t.count }))
            .collect()
    }

    fn validate_only(&self) -> bool {
        self.validate_only
    }

    fn lines(plan: Vec<Planned>, response: &CreatePartitionsResponse) -> Vec<Line> {
        pair(plan, response.results.iter().map(|t| (t.name.to_string(), t.error_code)).collect())
    }
}

impl Audited for DeleteRecordsRequest {
    type Response = DeleteRecordsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "DeleteRecords";

    fn plan(&self) -> Vec<Planned> {
        let mut plan = Vec::new();
        for t in &self.topics {
            for p in &t.partitions {
                let change = Change::DeleteRecords { partition: p.partition_index, offset: p.offset };
                plan.push(Planned::new(format!("{}/{}", t.name.as_str(), p.partition_index), TOPIC, &t.name, change));
            }
        }
        plan
    }

    fn lines(plan: Vec<Planned>, response: &DeleteRecordsResponse) -> Vec<Line> {
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
