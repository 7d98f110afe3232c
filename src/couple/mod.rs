//! Running trained networks for the evolution system; the labelling interface lives here so
//! that the global model can label frames on LibTorch or on the simulated chip alike.

pub mod label;
