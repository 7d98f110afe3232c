/// A bad accelerator description: which file, which field, what it held and what is allowed
/// (the project's one structured bad value).
pub type ArchError = nestevo_core::error::Invalid;
