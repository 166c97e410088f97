//! The core's `Bridge` against real hub processes (examples/workspaces, over
//! HTTP on loopback): a tool call and close, server errors passed through, an
//! unknown workspace, start failures and the start timeout, raw params.
//!
//! Needs an interpreter with the hub installed: `$FASTMCP_BRIDGE_PYTHON`, else
//! the repository's `.venv` (`npm test` sets both up).

use std::path::PathBuf;

use bridge_core::{Bridge, BridgeConfig, CallOptions, Error, LauncherKind, WorkspaceSpec};
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("FASTMCP_BRIDGE_PYTHON").unwrap_or_else(|_| {
        let venv = repo().join(".venv/bin/python");
        assert!(venv.exists(), "no hub interpreter: run `npm run setup` or set FASTMCP_BRIDGE_PYTHON");
        venv.to_string_lossy().into_owned()
    })
}

/// A bridge over hub workspaces, by id.
fn bridge<const N: usize>(workspaces: [(&str, WorkspaceSpec); N]) -> Bridge {
    let config = BridgeConfig {
        python: python(),
        workspaces: workspaces.into_iter().map(|(id, spec)| (id.to_owned(), spec)).collect(),
        ..Default::default()
    };
    Bridge::new(config, Default::default()).unwrap()
}

/// A hub workspace in `dir`.
fn hub(dir: impl Into<PathBuf>) -> WorkspaceSpec {
    WorkspaceSpec { dir: dir.into(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_a_tool_of_a_real_workspace_and_closes_it() {
    let alpha = repo().join("examples/workspaces/alpha");
    let bridge = bridge([("alpha", hub(alpha))]);
    let result = bridge
        .call(
            "alpha",
            "tools/call",
            Some(json!({"name": "add", "arguments": {"a": 2, "b": 3}})),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(result["structuredContent"]["result"], json!(5.0));
    let info = bridge.server_info("alpha").await.unwrap();
    assert_eq!(info["serverInfo"]["name"], "alpha");
    let pid = bridge.workspace("alpha").unwrap().pid().expect("running");

    bridge.close().await;
    // The process is gone: signal 0 to its pid fails.
    let alive = std::process::Command::new("kill").args(["-0", &pid.to_string()]).status().unwrap();
    assert!(!alive.success(), "process {pid} outlived close()");
    assert!(matches!(bridge.call("alpha", "tools/list", None, CallOptions::default()).await, Err(Error::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_responses_pass_through() {
    let alpha = repo().join("examples/workspaces/alpha");
    let bridge = bridge([("alpha", hub(alpha))]);
    let err = bridge.call("alpha", "no/such/method", None, CallOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::JsonRpc { code: -32601, .. }), "{err:?}");
    bridge.close().await;
}

#[tokio::test]
async fn unknown_workspace_is_refused() {
    let bridge = bridge([]);
    let err = bridge.call("nope", "tools/list", None, CallOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::UnknownWorkspace(ref id) if id == "nope"));
}

#[tokio::test]
async fn missing_directory_fails_to_start_with_the_hub_stderr() {
    let bridge = bridge([("gone", hub("/nonexistent/workspace"))]);
    match bridge.call("gone", "tools/list", None, CallOptions::default()).await {
        Err(Error::StartFailed { stderr, .. }) => {
            assert!(stderr.iter().any(|l| l.contains("/nonexistent/workspace")), "{stderr:?}")
        }
        other => panic!("expected StartFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn start_timeout_kills_a_silent_process() {
    // A workspace whose tool module sleeps on import never prints its ready line.
    let dir = std::env::temp_dir().join(format!("fastmcp-bridge-slow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("workspace.json"), r#"{"tools": ["slow"]}"#).unwrap();
    std::fs::write(dir.join("slow.py"), "import time\ntime.sleep(60)\n").unwrap();
    // Spawned: a fork server's own cold start (importing the hub, seconds on
    // a loaded machine) would count against the 1.5 s too, and end the
    // start with its own reason before the workspace's silence is seen.
    let silent = WorkspaceSpec { start_timeout_ms: Some(1500), launcher: Some(LauncherKind::Spawn), ..hub(&dir) };
    let bridge = bridge([("slow", silent)]);
    let started = std::time::Instant::now();
    let err = bridge.call("slow", "tools/list", None, CallOptions::default()).await.unwrap_err();
    assert!(matches!(err, Error::StartFailed { ref reason, .. } if reason.contains("ready line")), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_params_go_out_as_text_and_the_result_comes_back_as_text() {
    use bridge_core::jsonrpc::Params;

    let alpha = repo().join("examples/workspaces/alpha");
    let bridge = bridge([("alpha", hub(alpha))]);
    let params = r#"{"name": "echo", "arguments": {"text": "caf\u00e9"}}"#;
    let options = CallOptions {
        // Asks for progress (echo sends none): the server must accept the
        // request with the token spliced into the params' text.
        on_progress: Some(Box::new(|_| {})),
        ..CallOptions::default()
    };
    let raw = bridge
        .call_raw("alpha", "tools/call", Some(Params::from_json(params.to_owned()).unwrap()), options)
        .await
        .unwrap();
    let result: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(result["structuredContent"]["result"], "café");
    let parsed = bridge
        .call("alpha", "tools/call", Some(json!({"name": "echo", "arguments": {"text": "café"}})), CallOptions::default())
        .await
        .unwrap();
    assert_eq!(parsed, result);
    bridge.close().await;
}
