fn main() {
    eprintln!("mcptrace: no command yet");
    std::process::exit(2);
}
