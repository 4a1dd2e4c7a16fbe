//! Arbitrary text through parse → check (live host) → plan: nothing may
//! panic or hang, and what parses must survive a print/parse round trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcptrace::{check, lang, plan, policy::Policy};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let program = match lang::parse(source) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.render(source, "fuzz");
            return;
        }
    };
    let printed = lang::pretty::program(&program);
    let again = lang::parse(&printed).expect("printed program parses");
    assert_eq!(program, again, "round trip changed the tree:\n{printed}");
    let for_bpftrace = lang::pretty::program(&lang::dialect::for_bpftrace_017(&program));
    lang::parse(&for_bpftrace).expect("the bpftrace 0.17 rendering parses");
    match check::check(program, check::SystemHost::shared(), &Policy::default()) {
        Ok(checked) => {
            let _ = plan::plan(&checked, source, check::SystemHost::shared());
        }
        Err(e) => {
            let _ = e.render(source, "fuzz");
        }
    }
});
