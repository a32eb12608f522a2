//! Test certificates made with the `openssl` command line: a CA, a server certificate for localhost and
//! 127.0.0.1, client certificates signed by it, and a second CA nobody trusts. Generated per test run in
//! a temporary directory; nothing here is for real use.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Certs {
    pub dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Certs {
    /// A CA (`ca.pem`), a server certificate and key (`server.pem`, `server.key`) and an untrusted CA.
    pub fn new() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for ca in ["ca", "rogue-ca"] {
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN=weft test {ca}"),
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                ],
            );
        }
        let certs = Certs { dir };
        certs.issue("ca", "server", "/CN=localhost", Some("subjectAltName=DNS:localhost,IP:127.0.0.1"));
        certs
    }

    /// Issues `<name>.pem` / `<name>.key` with `subject` (openssl's `/C=US/O=Acme/CN=x` form) from `ca`.
    pub fn issue(&self, ca: &str, name: &str, subject: &str, ext: Option<&str>) {
        let d = self.dir.path();
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                &key,
                "-out",
                &csr,
            ],
        );
        let ext_file = format!("{name}.ext");
        std::fs::write(d.join(&ext_file), ext.unwrap_or("basicConstraints=CA:FALSE")).expect("write ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext_file,
                "-out",
                &pem,
            ],
        );
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}
