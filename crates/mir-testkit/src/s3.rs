//! A local S3 server for tests: moto's `moto_server` on a free port, with one bucket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// `moto_server`: `MIRREF_MOTO_SERVER`, else on `PATH`.
pub fn moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MIRREF_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("moto_server"))
        .find(|p| p.is_file())
}

/// A running moto server, stopped when dropped.
pub struct S3 {
    child: Child,
    port: u16,
    bucket: String,
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3 {
    /// Starts moto with `bucket`; `None` (the caller skips) when moto is not installed and
    /// `MIRREF_REQUIRE_S3` is not `1`; panics when it is required but missing.
    pub fn start(bucket: &str) -> Option<Self> {
        let Some(exe) = moto_server() else {
            assert!(
                std::env::var("MIRREF_REQUIRE_S3").as_deref() != Ok("1"),
                "MIRREF_REQUIRE_S3=1 but no moto_server (pip install 'moto[server]')"
            );
            eprintln!("skipped: no moto_server on PATH");
            return None;
        };
        let port = crate::server::free_port();
        let child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let s3 = S3 {
            child,
            port,
            bucket: bucket.into(),
        };
        crate::server::wait_ready(port, "moto");
        s3.request(&format!("PUT /{bucket}"));
        Some(s3)
    }

    /// Sends `METHOD /path` with no body; panics unless moto answers 200.
    fn request(&self, line: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto answers");
        let head = format!(
            "{line} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(head.as_bytes()).expect("request sent");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{line}: {answer}");
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The object_store options that reach this server (path-style requests over HTTP, any
    /// credentials).
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", format!("http://127.0.0.1:{}", self.port)),
            ("aws_allow_http", "true".into()),
            ("aws_access_key_id", "mir-ref".into()),
            ("aws_secret_access_key", "mir-ref".into()),
            ("aws_region", "us-east-1".into()),
            ("aws_virtual_hosted_style_request", "false".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The same as environment variables (`AWS_ENDPOINT=...`), for a child process.
    pub fn env(&self) -> Vec<(String, String)> {
        self.options()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect()
    }
}
