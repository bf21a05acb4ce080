//! System settings: a single row read on every use, never cached per
//! process, so a change made through one replica holds on all of them.

use chrono::{DateTime, Utc};
use entity::system_setting;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::{
    convert::{to_json_list, truncate_to_micros},
    first, Store, StoreError,
};
use crate::domain::settings::SystemSettings;

const SETTINGS_ROW_ID: i32 = 1;

impl Store {
    /// Writes the initial settings unless a row exists already (first start).
    pub async fn init_settings(&self, initial: &SystemSettings, now: DateTime<Utc>) -> Result<(), StoreError> {
        if first(system_setting::Entity::find_by_id(SETTINGS_ROW_ID), self.conn()).await?.is_some() {
            return Ok(());
        }
        let row = system_setting::ActiveModel {
            id: Set(SETTINGS_ROW_ID),
            mutations_disabled: Set(initial.mutations_disabled),
            read_rpm: Set(initial.read_rpm),
            mutate_rpm: Set(initial.mutate_rpm),
            daily_build_register_quota: Set(initial.daily_build_register_quota),
            ci_publishers: Set(to_json_list(&initial.ci_publishers)),
            promotion_allow_jumps: Set(initial.promotion_allow_jumps),
            updated_at: Set(truncate_to_micros(now)),
            updated_by: Set("system".to_owned()),
            last_change_reason: Set(Some("initial settings".to_owned())),
        };
        match system_setting::Entity::insert(row).exec(&self.writer().await).await {
            Ok(_) => Ok(()),
            // Another replica initialised it first: theirs stands.
            Err(err) => match StoreError::from(err) {
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn settings(&self) -> Result<SystemSettings, StoreError> {
        first(system_setting::Entity::find_by_id(SETTINGS_ROW_ID), self.conn())
            .await?
            .ok_or_else(|| StoreError::Corrupt("system settings row is missing".to_owned()))
            .and_then(SystemSettings::try_from)
    }
}
