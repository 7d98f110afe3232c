fn main() -> std::process::ExitCode {
    nestevo::cli::main()
}
