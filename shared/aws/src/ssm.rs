//! Keys in SSM Parameter Store: SecureString parameters read with decryption.

use std::sync::Arc;

use aws_config::SdkConfig;
use omnidesk_core::sealing::Sealing;

/// The value of the SecureString parameter `name`, decrypted and trimmed; at least 32
/// characters (it is a key). The error never holds the value.
pub async fn secure_key(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    let out = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(&e).to_string())?;
    let value = out
        .parameter
        .and_then(|p| p.value)
        .ok_or_else(|| "the parameter has no value".to_owned())?;
    let value = value.trim();
    if value.len() < 32 {
        return Err("the key must be at least 32 characters".to_owned());
    }
    Ok(value.to_owned())
}

/// Sealing of secrets at rest under the key in the SSM parameter `name`, read by the first
/// call that stores or opens a secret (not at a Lambda's cold start).
pub fn ssm_sealing(sdk: &SdkConfig, name: String) -> Arc<Sealing> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    Arc::new(Sealing::lazy(move || {
        let (ssm, name) = (ssm.clone(), name.clone());
        Box::pin(async move {
            secure_key(&ssm, &name)
                .await
                .map(String::into_bytes)
                .map_err(|e| format!("SSM parameter {name}: {e}"))
        })
    }))
}
