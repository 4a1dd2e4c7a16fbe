//! Where a run's [`Session`] comes from. `mcptrace run` loads one when it
//! needs it. The server, which lives for hours, keeps one loaded ahead: the
//! object's maps created and the first slot program of each common kind
//! verified, so an execution only writes its configuration and attaches.
//! Each execution takes a whole session of its own, whose maps and buffer
//! no other execution sees, and the next one loads in the background.
//! Sessions kept ahead are the server's: their programs are loaded but
//! attached nowhere, and go when the server goes.

use std::sync::{Arc, Mutex};

use mcptrace_common::slot::kind;

use super::{NativeError, Session, Transport};
use crate::ir::NativeProgram;

/// The kinds whose first slot a session kept ahead has verified: the kinds
/// users write most. Later slots, and fentry (loaded per function), load
/// when attached.
const PRELOADED: [u32; 7] = [
    kind::TRACEPOINT,
    kind::RAW_TRACEPOINT,
    kind::UPROBE,
    kind::URETPROBE,
    kind::KPROBE,
    kind::KRETPROBE,
    kind::PERF_EVENT,
];

/// Hands out sessions: loaded on demand, or taken from those kept ahead.
#[derive(Clone)]
pub struct Sessions {
    transport: Transport,
    ahead: Option<Arc<Ahead>>,
}

/// Sessions loaded ahead of use, and whether one is being loaded.
#[derive(Default)]
struct Ahead {
    state: Mutex<AheadState>,
}

#[derive(Default)]
struct AheadState {
    ready: Option<Session>,
    loading: bool,
    /// Why the last session loaded ahead failed to load; a run then loads
    /// its own and reports its own error.
    failed: Option<String>,
}

/// What host_info says of the sessions kept ahead.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct AheadStatus {
    /// A session is loaded and waiting.
    pub ready: bool,
    /// Slot programs it holds verified.
    pub programs: usize,
    /// Why loading one failed, if the last attempt did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl Sessions {
    /// Each run loads its own session when it needs one.
    pub fn on_demand(transport: Transport) -> Self {
        Self { transport, ahead: None }
    }

    /// Keeps a session loaded ahead of use, starting now in the background.
    pub fn kept_ahead(transport: Transport) -> Self {
        let sessions = Self { transport, ahead: Some(Arc::default()) };
        sessions.refill();
        sessions
    }

    /// A fresh session for `program`: the one kept ahead if it is ready,
    /// else one loaded now for it. Either way the next one starts loading
    /// in the background.
    pub fn take(&self, program: &NativeProgram) -> Result<Session, NativeError> {
        let ready = self.ahead.as_ref().and_then(|a| lock(a).ready.take());
        self.refill();
        match ready {
            Some(session) => Ok(session),
            None => Session::load_for(self.transport, program),
        }
    }

    /// The state of the sessions kept ahead; None when none are.
    pub fn ahead_status(&self) -> Option<AheadStatus> {
        let ahead = self.ahead.as_ref()?;
        let state = lock(ahead);
        Some(AheadStatus {
            ready: state.ready.is_some(),
            programs: state.ready.as_ref().map_or(0, Session::loaded_programs),
            failed: state.failed.clone(),
        })
    }

    /// Starts loading a session ahead, unless one is ready or loading.
    fn refill(&self) {
        let Some(ahead) = &self.ahead else { return };
        {
            let mut state = lock(ahead);
            if state.ready.is_some() || state.loading {
                return;
            }
            state.loading = true;
        }
        let ahead = ahead.clone();
        let transport = self.transport;
        std::thread::spawn(move || {
            let loaded = Session::load(transport).map(|mut s| {
                s.preload(&PRELOADED);
                s
            });
            let mut state = lock(&ahead);
            state.loading = false;
            match loaded {
                Ok(session) => {
                    state.ready = Some(session);
                    state.failed = None;
                }
                Err(e) => state.failed = Some(e.to_string()),
            }
        });
    }
}

fn lock(ahead: &Ahead) -> std::sync::MutexGuard<'_, AheadState> {
    ahead.state.lock().unwrap_or_else(|e| e.into_inner())
}
