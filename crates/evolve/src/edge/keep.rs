//! A3: nothing is trained; the deployed models stay.

use super::window::{Strategy, Window};
use super::Edge;
use crate::error::Result;

pub(super) struct Keep;

impl Strategy for Keep {
    fn run(&self, _: &mut Edge, _: &mut Window<'_>) -> Result<()> {
        Ok(())
    }
}
