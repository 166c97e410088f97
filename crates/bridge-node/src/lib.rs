//! N-API binding of fastmcp-bridge: converts types and calls the core.
//!
//! Options cross as JS objects, converted and checked by [`options`] (which
//! throws `INVALID_ARGUMENT` for a malformed one); values cross as JSON text
//! (parsed by the JS wrapper) and failures as a structured [`NativeError`],
//! not a thrown exception, so that the JS side can build a `BridgeError`
//! with its code and data. A
//! call's params go into the request as the JSON text JS made, checked but
//! not parsed, and its result comes back as the server's text, unparsed.
//!
//! One file per concept, as the core's: [`bridge`] (the `NativeBridge`
//! class), [`session`] (`NativeSession`, a further MCP session), [`batch`]
//! (how calls and their outcomes cross the boundary, with its theory of
//! operation), [`callbacks`] (JS functions the core calls: handlers of
//! server requests and notifications, progress, events), [`options`] (the
//! options a JS user passes, whose typings napi-rs generates) and [`error`]
//! (outcomes and failures as JS sees them).

mod batch;
mod bridge;
mod callbacks;
mod error;
mod options;
mod session;

pub use batch::SettledCalls;
pub use bridge::NativeBridge;
pub use callbacks::ProgressUpdate;
pub use error::{NativeError, Outcome};
pub use options::{native_call_option_keys, BridgeOptions, NativeCallOptions, WorkspaceOptions};
pub use session::NativeSession;

/// A boxed future that can move to the runtime.
pub(crate) type BoxFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The addon's tokio runtime, created when the addon loads: one worker
/// thread, unless the `TOKIO_WORKER_THREADS` environment variable sets
/// another number (tokio reads it for napi-rs's default runtime).
///
/// One worker measured best on a 2-core machine, in throughput and in
/// client CPU per call, against both a bare echo server and FastMCP (the
/// "Variants" figures in `bench/results/2026-11-29-encoded-once.md`): the
/// core's work per call is small and I/O-bound, and a second worker mostly
/// adds thread wake-ups. More workers can help when many workspaces exchange large messages at
/// once, whose JSON a single worker decodes one after another.
#[napi_derive::module_init]
fn init_runtime() {
    if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
        return;
    }
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => napi::bindgen_prelude::create_custom_tokio_runtime(runtime),
        // napi-rs then builds its default runtime on first use.
        Err(e) => eprintln!(
            "fastmcp-bridge: one-worker tokio runtime not created ({e}); using the default"
        ),
    }
}
