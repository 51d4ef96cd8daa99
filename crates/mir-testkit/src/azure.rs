//! A local Azure Blob Storage for tests: Microsoft's Azurite (npm) on a free port, with one
//! container, created through Python's `azure-storage-blob` (object_store creates none).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Azurite's well-known development account.
const ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key (published in Azurite's documentation).
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// `azurite-blob` (`MIRREF_AZURITE`, else on `PATH`) and a Python with `azure-storage-blob`
/// (`MIRREF_AZURE_PYTHON`, else `python3`).
fn tools() -> Option<(PathBuf, PathBuf)> {
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    let azurite = std::env::var_os("MIRREF_AZURITE")
        .map(PathBuf::from)
        .or_else(|| on_path("azurite-blob"))?;
    let python = std::env::var_os("MIRREF_AZURE_PYTHON")
        .map(PathBuf::from)
        .or_else(|| on_path("python3"))?;
    Some((azurite, python))
}

/// A running Azurite, stopped when dropped.
pub struct Azurite {
    child: Child,
    port: u16,
    container: String,
    _data: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Azurite {
    /// Starts Azurite with `container`; `None` (the caller skips) when it is not installed
    /// and `MIRREF_REQUIRE_AZURE` is not `1`; panics when it is required but missing.
    pub fn start(container: &str) -> Option<Self> {
        let Some((exe, python)) = tools() else {
            assert!(
                std::env::var("MIRREF_REQUIRE_AZURE").as_deref() != Ok("1"),
                "MIRREF_REQUIRE_AZURE=1 but no azurite-blob or azure-storage-blob"
            );
            eprintln!("skipped: no Azurite (npm install azurite) or azure-storage-blob");
            return None;
        };
        let port = crate::server::free_port();
        let data = tempfile::tempdir().expect("a folder for Azurite");
        let child = Command::new(&exe)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
            ])
            .arg(data.path())
            .args(["--silent", "--disableTelemetry", "--skipApiVersionCheck"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", exe.display()));
        let azurite = Azurite {
            child,
            port,
            container: container.into(),
            _data: data,
        };
        crate::server::wait_ready(port, "Azurite");
        azurite.create_container(&python);
        Some(azurite)
    }

    fn create_container(&self, python: &PathBuf) {
        let script = format!(
            "from azure.storage.blob import BlobServiceClient\n\
             BlobServiceClient.from_connection_string('DefaultEndpointsProtocol=http;\
             AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={}').create_container('{}')",
            self.endpoint(),
            self.container
        );
        let out = Command::new(python)
            .args(["-c", &script])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "creating the container: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// `az://container/prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("az://{}/{prefix}", self.container)
    }

    /// The object_store options that reach this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("azure_storage_account_name", ACCOUNT.to_string()),
            ("azure_storage_account_key", KEY.into()),
            ("azure_storage_endpoint", self.endpoint()),
            ("azure_allow_http", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The same as environment variables (`AZURE_STORAGE_ACCOUNT_NAME`, ...), for a process.
    pub fn env(&self) -> Vec<(String, String)> {
        self.options()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect()
    }
}
