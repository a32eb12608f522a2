//! The audit of config changes: AlterConfigs (the resource's whole set replaced) and
//! IncrementalAlterConfigs, one line per resource listing every config named with its operation and new
//! value; secret values are left out (see `weft_audit::is_secret`).

use super::{Audited, Line, Planned, pair};
use kafka_protocol::messages::*;
use weft_audit::{Change, ConfigChange};

/// Kafka's name of a config resource type (`ConfigResource.Type`).
fn resource_type(code: i8) -> String {
    match code {
        2 => "TOPIC".into(),
        4 => "BROKER".into(),
        8 => "BROKER_LOGGER".into(),
        16 => "CLIENT_METRICS".into(),
        32 => "GROUP".into(),
        other => format!("UNKNOWN({other})"),
    }
}

fn key(resource_type: i8, name: &str) -> String {
    format!("{resource_type}/{name}")
}

impl Audited for AlterConfigsRequest {
    type Response = AlterConfigsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "AlterConfigs";

    fn plan(&self) -> Vec<Planned> {
        self.resources
            .iter()
            .map(|r| {
                let configs = r.configs.iter().map(|c| ConfigChange::new(&c.name, "set", c.value.as_deref())).collect();
                let change = Change::AlterConfigs { incremental: false, configs };
                Planned::new(
                    key(r.resource_type, &r.resource_name),
                    &resource_type(r.resource_type),
                    &r.resource_name,
                    change,
                )
            })
            .collect()
    }

    fn validate_only(&self) -> bool {
        self.validate_only
    }

    fn lines(plan: Vec<Planned>, response: &AlterConfigsResponse) -> Vec<Line> {
        pair(plan, response.responses.iter().map(|r| (key(r.resource_type, &r.resource_name), r.error_code)).collect())
    }
}

/// IncrementalAlterConfigs' operation codes as names (an unknown one as its number).
fn operation(code: i8) -> String {
    match code {
        0 => "set".into(),
        1 => "delete".into(),
        2 => "append".into(),
        3 => "subtract".into(),
        other => format!("unknown({other})"),
    }
}

impl Audited for IncrementalAlterConfigsRequest {
    type Response = IncrementalAlterConfigsResponse;
    type Plan = Vec<Planned>;
    const API: &'static str = "IncrementalAlterConfigs";

    fn plan(&self) -> Vec<Planned> {
        self.resources
            .iter()
            .map(|r| {
                let configs = r
                    .configs
                    .iter()
                    .map(|c| ConfigChange::new(&c.name, &operation(c.config_operation), c.value.as_deref()))
                    .collect();
                let change = Change::AlterConfigs { incremental: true, configs };
                Planned::new(
                    key(r.resource_type, &r.resource_name),
                    &resource_type(r.resource_type),
                    &r.resource_name,
                    change,
                )
            })
            .collect()
    }

    fn validate_only(&self) -> bool {
        self.validate_only
    }

    fn lines(plan: Vec<Planned>, response: &IncrementalAlterConfigsResponse) -> Vec<Line> {
        pair(plan, response.responses.iter().map(|r| (key(r.resource_type, &r.resource_name), r.error_code)).collect())
    }
}
