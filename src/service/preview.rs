//! The admin previews (DESIGN §11.1): what `createDeliveryGroup` /
//! `updateDeliveryGroup` and `createRecipe` / `updateRecipe` would say of an
//! input, without writing or auditing anything. They run the mutations' own
//! validators (`domain::admin`), so a rule cannot differ between the two.
//!
//! PLATFORM_ADMIN only; other roles are refused as every admin-only read is
//! (logged, not audited: `reads::require_role`).

use super::{reads::require_role, Caller, Services};
use crate::domain::{
    admin::{preview_group, preview_recipe, GroupInput, Preview, RecipeInput},
    DomainError, Principal,
};

impl Services {
    /// `previewDeliveryGroup`: every refusal of the group mutations'
    /// validator and every warning. An existing group with the input's id is
    /// passed as the update mutation passes it; whether the id exists is
    /// not reported, since a preview does not know whether a create or an
    /// update is meant.
    pub async fn preview_delivery_group(&self, caller: &Caller, input: GroupInput) -> Result<Preview, DomainError> {
        require_role(&caller.principal, Principal::is_admin, "preview delivery groups")?;
        let existing = self.store.delivery_group(&input.id).await?;
        let known = self.known_catalog().await?;
        Ok(preview_group(&input, existing.as_ref(), &known))
    }

    /// `previewRecipe`: every refusal of the recipe validator and, when a
    /// recipe with the input's id exists, the refusal of a change to its
    /// engine mapping while groups use it. Existence itself is not reported.
    pub async fn preview_recipe(&self, caller: &Caller, input: RecipeInput) -> Result<Preview, DomainError> {
        require_role(&caller.principal, Principal::is_admin, "preview recipes")?;
        let engine = match self.store.recipe(&input.id).await? {
            Some(current) => self.engine_mapping(&current, &input).await?,
            None => Ok(()),
        };
        Ok(preview_recipe(&input, engine))
    }
}
