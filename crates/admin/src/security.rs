//! Client security settings as librdkafka and Kafka's tools take them: `-X key=value` (repeatable) and
//! `--command-config FILE` (Java properties), `-X` winning. librdkafka gets every property as given; the
//! admin wire client reads the ones it honours (`security.protocol`, `ssl.ca.location`,
//! `ssl.certificate.location`, `ssl.key.location`, `ssl.endpoint.identification.algorithm`) and builds its
//! TLS connector from them (SASL logins are `sasl_login`'s).

use anyhow::{Context, Result, anyhow, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as TlsError, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// Reads a Java properties file: `key=value`, `key: value` or `key value` lines, `#` and `!` comments,
/// a trailing backslash continuing a line, and `\t`, `\n`, `\r`, `\uXXXX` and `\x` escapes.
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_properties(&text))
}

fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            logical.push_str(&line[..line.len() - 1]);
            continue;
        }
        logical.push_str(line);
        out.push(split_property(&std::mem::take(&mut logical)));
    }
    if !logical.is_empty() {
        out.push(split_property(&logical));
    }
    out
}

/// Splits a logical line at its first unescaped `=`, `:` or whitespace and unescapes both sides.
fn split_property(line: &str) -> (String, String) {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() && !matches!(chars[i], '=' | ':' | ' ' | '\t' | '\x0c') {
        i += if chars[i] == '\\' { 2 } else { 1 };
    }
    let key: String = chars[..i.min(chars.len())].iter().collect();
    let mut rest = chars.get(i..).unwrap_or(&[]);
    while let [' ' | '\t' | '\x0c', tail @ ..] = rest {
        rest = tail;
    }
    if let ['=' | ':', tail @ ..] = rest {
        rest = tail;
        while let [' ' | '\t' | '\x0c', tail @ ..] = rest {
            rest = tail;
        }
    }
    (unescape(&key), unescape(&rest.iter().collect::<String>()))
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.extend(u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// How the wire client reaches brokers.
pub enum Transport {
    Plaintext,
    Tls(tokio_rustls::TlsConnector),
}

/// The wire client's transport from the client properties.
pub fn transport(properties: &[(String, String)]) -> Result<Transport> {
    let get = |key: &str| properties.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let protocol = get("security.protocol").unwrap_or("PLAINTEXT").to_ascii_uppercase();
    match protocol.as_str() {
        // SASL_* log in over the transport (see `sasl_login`).
        "PLAINTEXT" | "SASL_PLAINTEXT" => Ok(Transport::Plaintext),
        "SSL" | "SASL_SSL" => Ok(Transport::Tls(connector(&get)?)),
        other => bail!("unknown security.protocol {other:?}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    }
}

fn connector<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> Result<tokio_rustls::TlsConnector> {
    if get("ssl.key.password").is_some() {
        bail!(
            "ssl.key.password: encrypted keys are not supported by weft's admin requests; give an unencrypted PEM key"
        );
    }
    let mut roots = rustls::RootCertStore::empty();
    match get("ssl.ca.location") {
        Some(path) => {
            for cert in
                CertificateDer::pem_file_iter(path).with_context(|| format!("cannot read ssl.ca.location {path}"))?
            {
                let cert = cert.with_context(|| format!("cannot read ssl.ca.location {path}"))?;
                roots.add(cert).with_context(|| format!("ssl.ca.location {path}: not a usable CA certificate"))?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
    }
    if roots.is_empty() {
        bail!("no CA certificate to verify brokers with: set ssl.ca.location to a PEM file");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| anyhow!("cannot verify brokers: {e}"))?;
    let check_name = match get("ssl.endpoint.identification.algorithm").unwrap_or("https") {
        "https" => true,
        "none" | "" => false,
        other => bail!("unknown ssl.endpoint.identification.algorithm {other:?}: expected https or none"),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow!("{e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { webpki, check_name }));
    let config = match (get("ssl.certificate.location"), get("ssl.key.location")) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read ssl.certificate.location {cert}"))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("ssl.key.location {key}: no unencrypted PEM private key"))?;
            builder.with_client_auth_cert(chain, key).context("the client certificate and key do not match")?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => bail!("ssl.certificate.location and ssl.key.location go together"),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The broker's certificate chain checked against the CAs, and its name against the host unless
/// `ssl.endpoint.identification.algorithm=none` (as librdkafka: the chain is always checked).
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_parse_as_java_reads_them() {
        let text = "# comment\n! also\n\nsecurity.protocol=SSL\nssl.ca.location : /tmp/ca.pem\nkey\\ with\\=odd value \
                    here\nlong = a\\\n    b\\\n  c\nunicode=\\u00e9t\\u00e9\nempty=\nbare\n";
        let got = parse_properties(text);
        let want = [
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/tmp/ca.pem"),
            ("key with=odd", "value here"),
            ("long", "abc"),
            ("unicode", "été"),
            ("empty", ""),
            ("bare", ""),
        ];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec());
    }

    #[test]
    fn protocols_the_wire_client_cannot_speak_are_named() {
        let props = |p: &str| vec![("security.protocol".to_string(), p.to_string())];
        assert!(matches!(transport(&[]).unwrap(), Transport::Plaintext));
        assert!(matches!(transport(&props("plaintext")).unwrap(), Transport::Plaintext));
        assert!(matches!(transport(&props("SASL_PLAINTEXT")), Ok(Transport::Plaintext)));
        let e = transport(&props("TLS")).err().unwrap().to_string();
        assert!(e.contains("unknown security.protocol"), "{e}");
        let mut ssl = props("SSL");
        ssl.push(("ssl.ca.location".into(), "/nonexistent/ca.pem".into()));
        let e = transport(&ssl).err().unwrap().to_string();
        assert!(e.contains("cannot read ssl.ca.location /nonexistent/ca.pem"), "{e}");
    }
}
