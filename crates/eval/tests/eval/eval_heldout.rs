//! Held-out sets: an absurd frame count is refused before anything is allocated.

use nestevo_data::StreamId;
use nestevo_eval::heldout::{HeldOut, MAX_FRAMES};

#[test]
fn too_many_frames_are_refused_naming_the_count_and_the_limit() {
    for n in [usize::MAX, MAX_FRAMES + 1] {
        let e = HeldOut::new(StreamId::D, n).render(96, 96).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("frames") && msg.contains(&n.to_string()) && msg.contains("at most"),
            "{msg}"
        );
    }
    // Within the count, the memory bound: 50,000 frames of 1280x720 are 129 GiB.
    let msg = HeldOut::new(StreamId::D, 50_000)
        .render(1280, 720)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("GiB") && msg.contains("1280x720"), "{msg}");
    assert_eq!(
        HeldOut::new(StreamId::D, 2).render(16, 16).unwrap().len(),
        2
    );
}
