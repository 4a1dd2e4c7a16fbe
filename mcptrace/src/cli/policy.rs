//! `mcptrace policy [--policy FILE] [--allow-unsafe] [--allow-sensitive]`:
//! the policy programs would be checked under, as a file `--policy` reads.

use std::process::ExitCode;

use super::PolicyArgs;

pub fn run(args: PolicyArgs) -> ExitCode {
    let Some(policy) = args.policy_or_report() else { return ExitCode::FAILURE };
    print!("{}", policy.to_toml());
    ExitCode::SUCCESS
}
