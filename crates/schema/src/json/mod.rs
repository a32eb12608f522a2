//! placeholder
#[derive(Debug, Clone)]
pub(crate) struct JsonSchema;
impl JsonSchema {
    pub(crate) fn parse(_: &str, _: &[crate::Dependency]) -> Result<Self, crate::SchemaError> {
        todo!()
    }
    pub(crate) fn canonical(&self, _: bool) -> String {
        todo!()
    }
    pub(crate) fn read_incompatibilities(&self, _: &Self) -> Vec<String> {
        todo!()
    }
    pub(crate) fn record_name(&self) -> Option<String> {
        todo!()
    }
    pub(crate) fn validate_payload(&self, _: &[u8]) -> Result<(), String> {
        todo!()
    }
}
