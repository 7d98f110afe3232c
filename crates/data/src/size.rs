//! The frame sides a user may ask the renderer for.

use super::error::DataError;

/// Frame sides the renderer accepts from a user (pixels).
pub const SIZES: std::ops::RangeInclusive<usize> = 16..=4096;

/// Refuses a frame side outside `SIZES`.
pub fn check_size(size: usize) -> Result<(), DataError> {
    nestevo_core::check!(
        SIZES.contains(&size),
        "--size {size}: allowed are {} to {} pixels",
        SIZES.start(),
        SIZES.end()
    );
    Ok(())
}
