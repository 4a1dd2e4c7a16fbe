//! The native backend behind the execution layer: attach on a thread of its
//! own, report attachment, then stream rendered records into the buffer.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::execution::{Execution, Status, StopReason};
use crate::{
    ir::NativeProgram,
    native::{Transport, run},
    output::{Format, Record},
};

pub fn start(
    exec: Arc<Execution>,
    program: NativeProgram,
    attached: oneshot::Sender<Result<(), String>>,
) {
    std::thread::spawn(move || {
        let running = match run::attach(program, Transport::RingBuffer) {
            Ok(a) => a,
            Err(e) => {
                let message = e.to_string();
                exec.finish(Status::Failed, StopReason::Error, Some(message.clone()));
                let _ = attached.send(Err(message));
                return;
            }
        };
        let _ = attached.send(Ok(()));
        let mut buf = Vec::new();
        let mut sink = |record: Record| {
            if record.is_data() {
                buf.clear();
                Format::Json.render(&record, &mut buf);
                // Empty maps render as nothing.
                if let Ok(json) = serde_json::from_slice(&buf) {
                    exec.push_record(json);
                }
            }
            buf.clear();
            Format::Text.render(&record, &mut buf);
            exec.push(&buf)
        };
        match running.run(exec.timeout, &mut sink, &exec.stop) {
            Ok((outcome, teardown)) => {
                exec.state().lost_events = outcome.lost_events;
                exec.finish(Status::Completed, outcome.reason.into(), None);
                // Detaching can take ~70 ms per tracepoint: after the result.
                drop(teardown);
            }
            Err(e) => exec.finish(Status::Failed, StopReason::Error, Some(e.to_string())),
        }
    });
}
