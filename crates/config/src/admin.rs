//! The `--admin-auth` choice: how clients of the admin HTTP listener prove who they are.

use crate::codec::Named;

/// How the admin listener authenticates `/metrics` (and later the schema registry); `/healthz` and
/// `/readyz` stay open whatever the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminAuth {
    /// No authentication: whoever reaches the listener reads every route.
    #[default]
    None,
    /// HTTP Basic, checked against the SCRAM users of the metastore and the PLAIN users file.
    Basic,
    /// The client certificate (`--admin-ssl` with `--ssl-client-auth required`), mapped by
    /// `--ssl-principal-mapping-rules`.
    Mtls,
}

impl AdminAuth {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "basic",
            Self::Mtls => "mtls",
        }
    }
}

impl Named for AdminAuth {
    const NAMES: &'static [(Self, &'static str)] =
        &[(AdminAuth::None, "none"), (AdminAuth::Basic, "basic"), (AdminAuth::Mtls, "mtls")];
    const NAME_LIST: &'static [&'static str] = &["none", "basic", "mtls"];
    const EXPECTED: &'static str = "none, basic or mtls";
}

impl crate::AgentConfig {
    /// `--admin-auth mtls` needs client certificates on the admin listener. (`--peer-ssl` without
    /// certificate files is refused by the agent at start, where it names what is missing.)
    pub(crate) fn check_http_security(&self) -> Result<(), crate::ConfigError> {
        if self.admin_auth == AdminAuth::Mtls
            && (!self.admin_ssl || self.ssl_client_auth != crate::SslClientAuth::Required)
        {
            let needs = "--admin-ssl and --ssl-client-auth required";
            return Err(crate::ConfigError::Needs { option: "admin-auth mtls".into(), needs });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{AdminAuth, AgentConfig, SslClientAuth};

    #[test]
    fn mtls_needs_admin_ssl_with_required_client_certificates() {
        let mut c = AgentConfig { admin_auth: AdminAuth::Mtls, ..Default::default() };
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "--admin-auth mtls needs --admin-ssl and --ssl-client-auth required");
        c.admin_ssl = true;
        c.ssl_client_auth = SslClientAuth::Requested;
        assert!(c.validate().is_err(), "a requested certificate may be missing");
        c.ssl_client_auth = SslClientAuth::Required;
        c.validate().unwrap();
        assert!(AgentConfig { admin_auth: AdminAuth::Basic, ..Default::default() }.validate().is_ok());
    }
}
