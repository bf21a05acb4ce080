//! The Subscription root (graphql-transport-ws on `/graphql/ws`).

mod deployment;

use async_graphql::MergedSubscription;

#[derive(MergedSubscription, Default)]
pub struct Subscription(deployment::DeploymentSubscription);
