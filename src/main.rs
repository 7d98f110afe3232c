//! `nestevo`: parses the command line, calls one library function, prints.

mod cli;
mod engines;
mod info;

fn main() -> std::process::ExitCode {
    cli::main()
}
