mod harness;
mod spinnaker_adapter;
