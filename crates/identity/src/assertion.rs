//! Client assertions: the certificate credential. The client signs a JWT with its certificate's
//! key; it is verified over its text as received (RS256 or PS256), with the certificate found
//! by `x5t#S256` or `x5t` among those registered for the application. Segments may carry
//! base64 padding, and `exp`/`nbf` may be fractional, as some clients write them.

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use serde_json::Value;

use crate::entra_error::EntraError;

/// `client_assertion_type` of a certificate credential.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const LEEWAY_SECONDS: f64 = 60.0;

/// What the assertion must say besides its signature.
pub struct Expected<'a> {
    pub client_id: &'a str,
    /// The tenant's GUID and domain: the token endpoint in `aud` must name one of them.
    pub tenant_names: [&'a str; 2],
    pub now_unix: i64,
}

fn segment(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn json_segment(text: &str) -> Option<Value> {
    serde_json::from_slice(&segment(text)?).ok()
}

/// Checks `assertion` against the application's registered certificates (DER).
pub fn verify(assertion: &str, certificates: &[Vec<u8>], expected: &Expected<'_>) -> Result<(), EntraError> {
    let signature_failed = |why: &str| EntraError::invalid_assertion(700027, why);
    let mut parts = assertion.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(signature_failed("the assertion is not a JWT"));
    };
    let header_json = json_segment(header).ok_or_else(|| signature_failed("the header is not base64url JSON"))?;
    let algorithm = match header_json["alg"].as_str() {
        Some("RS256") => webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        _ => return Err(signature_failed("the algorithm must be RS256 or PS256")),
    };
    let thumbprint = |name: &str| header_json[name].as_str().and_then(segment);
    let certificate = match (thumbprint("x5t#S256"), thumbprint("x5t")) {
        (Some(sha256), _) => certificates
            .iter()
            .find(|c| digest(&SHA256, c).as_ref() == sha256.as_slice()),
        (None, Some(sha1)) => certificates
            .iter()
            .find(|c| digest(&SHA1_FOR_LEGACY_USE_ONLY, c).as_ref() == sha1.as_slice()),
        (None, None) => return Err(signature_failed("the header names no certificate (x5t#S256 or x5t)")),
    }
    .ok_or_else(|| signature_failed("the certificate is not registered for the application"))?;
    let signature = segment(signature).ok_or_else(|| signature_failed("the signature is not base64url"))?;
    let signed = &assertion[..header.len() + 1 + payload.len()];
    let der = CertificateDer::from(certificate.as_slice());
    webpki::EndEntityCert::try_from(&der)
        .map_err(|_| signature_failed("the registered certificate cannot be read"))?
        .verify_signature(algorithm, signed.as_bytes(), &signature)
        .map_err(|_| signature_failed("the signature does not verify"))?;

    let claims = json_segment(payload).ok_or_else(|| signature_failed("the payload is not base64url JSON"))?;
    if claims["iss"].as_str() != Some(expected.client_id) || claims["sub"].as_str() != Some(expected.client_id) {
        return Err(EntraError::invalid_assertion(
            700021,
            "iss and sub must be the client id",
        ));
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences
        .iter()
        .any(|aud| names_token_endpoint(aud, &expected.tenant_names))
    {
        return Err(EntraError::invalid_assertion(
            700021,
            "aud must be this tenant's token endpoint",
        ));
    }
    let now = expected.now_unix as f64;
    let exp = claims["exp"]
        .as_f64()
        .ok_or_else(|| EntraError::invalid_assertion(700024, "exp is missing"))?;
    let nbf = claims["nbf"].as_f64().unwrap_or(f64::MIN);
    if exp + LEEWAY_SECONDS < now || nbf - LEEWAY_SECONDS > now {
        return Err(EntraError::invalid_assertion(
            700024,
            "the assertion is not within its valid time range",
        ));
    }
    Ok(())
}

/// `https://{any host}/{tenant}/oauth2/v2.0/token` or `/oauth2/token`, the tenant by GUID or domain.
fn names_token_endpoint(aud: &str, tenant_names: &[&str; 2]) -> bool {
    let Some((_, rest)) = aud.split_once("://") else {
        return false;
    };
    let Some((_host, path)) = rest.split_once('/') else {
        return false;
    };
    let mut path = path.trim_end_matches('/').split('/');
    let tenant = path.next().unwrap_or_default();
    let endpoint: Vec<&str> = path.collect();
    tenant_names.iter().any(|n| n.eq_ignore_ascii_case(tenant))
        && matches!(endpoint.as_slice(), ["oauth2", "v2.0", "token"] | ["oauth2", "token"])
}
