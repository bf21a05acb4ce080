pub mod fake_gate;
