//! Bridge and workspace options, as the JS side passes them (camelCase JSON).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Options of a [`Bridge`](crate::Bridge).
///
/// # Default
///
/// - `python`: `"python3"`
/// - `startTimeoutMs`: 30000
/// - `workspaces`: none
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BridgeConfig {
    /// Workspaces by id.
    #[serde(default)]
    pub workspaces: BTreeMap<String, WorkspaceSpec>,
    /// Python interpreter that has the `fastmcp_workspace` hub installed.
    #[serde(default = "default_python")]
    pub python: String,
    /// How long a workspace process may take to print its ready line, in ms.
    #[serde(default = "default_start_timeout_ms")]
    pub start_timeout_ms: u64,
}

/// One workspace: a directory holding `workspace.json`, served by its own
/// hub process.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// The workspace directory; relative paths resolve against the current
    /// directory of the process.
    pub dir: PathBuf,
    /// Overrides [`BridgeConfig::python`] for this workspace.
    #[serde(default)]
    pub python: Option<String>,
    /// Extra environment variables of the workspace process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Overrides [`BridgeConfig::start_timeout_ms`] for this workspace.
    #[serde(default)]
    pub start_timeout_ms: Option<u64>,
}

fn default_python() -> String {
    "python3".to_owned()
}

fn default_start_timeout_ms() -> u64 {
    30_000
}

impl BridgeConfig {
    /// Parses options from JSON.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the offending field.
    pub fn from_json(json: &str) -> Result<Self> {
        let config: BridgeConfig = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("bridge options: {e}")))?;
        for (id, spec) in &config.workspaces {
            if id.is_empty() {
                return Err(Error::InvalidArgument("workspace id must not be empty".into()));
            }
            if spec.dir.as_os_str().is_empty() {
                return Err(Error::InvalidArgument(format!("workspace {id:?}: dir is empty")));
            }
        }
        Ok(config)
    }
}

/// The resolved settings one workspace process starts with.
#[derive(Debug, Clone)]
pub(crate) struct HubCommand {
    pub python: String,
    pub dir: PathBuf,
    pub env: BTreeMap<String, String>,
    pub start_timeout: Duration,
}

impl HubCommand {
    pub(crate) fn new(config: &BridgeConfig, spec: &WorkspaceSpec) -> Self {
        HubCommand {
            python: spec.python.clone().unwrap_or_else(|| config.python.clone()),
            dir: spec.dir.clone(),
            env: spec.env.clone(),
            start_timeout: Duration::from_millis(
                spec.start_timeout_ms.unwrap_or(config.start_timeout_ms),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_workspace_overrides_win() {
        let config = BridgeConfig::from_json(
            r#"{"workspaces":{"a":{"dir":"/w/a"},"b":{"dir":"/w/b","python":"py","startTimeoutMs":5}}}"#,
        )
        .unwrap();
        let a = HubCommand::new(&config, &config.workspaces["a"]);
        let b = HubCommand::new(&config, &config.workspaces["b"]);
        assert_eq!(a.python, "python3");
        assert_eq!(a.start_timeout, Duration::from_secs(30));
        assert_eq!(b.python, "py");
        assert_eq!(b.start_timeout, Duration::from_millis(5));
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let err = BridgeConfig::from_json(r#"{"workspaces":{},"pyhton":"x"}"#).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(ref m) if m.contains("pyhton")), "{err}");
    }

    #[test]
    fn empty_workspace_dir_is_rejected() {
        let err = BridgeConfig::from_json(r#"{"workspaces":{"a":{"dir":""}}}"#).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)));
    }
}
