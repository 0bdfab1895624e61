//! An RFC 3161 time-stamp response from the kit TSA, as a Sigstore TSA returns it.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Result, anyhow};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, OctetString, SetOfVec, Uint};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Tag};
use p256::ecdsa::SigningKey;
use rand_core::{OsRng, RngCore};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::pki::{self, tlv};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// The policy OID Sigstore's timestamp-authority puts in its tokens.
const TSA_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: pki::SHA256_OID,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

/// A granted TimeStampResp whose token stamps `signature` (the message imprint is over the
/// signature bytes, as Sigstore clients request it) at `gen_time`.
pub fn timestamp(
    signature: &[u8],
    gen_time: u64,
    tsa_key: &SigningKey,
    tsa_cert: &Certificate,
) -> Result<Vec<u8>> {
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    let mut nonce = [0u8; 8];
    OsRng.fill_bytes(&mut nonce);
    let gen_time = GeneralizedTime::from_unix_duration(Duration::from_secs(gen_time))?;

    let imprint = tlv(
        0x30,
        &[
            sha256_alg().to_der()?,
            OctetString::new(pki::sha256(signature).to_vec())?.to_der()?,
        ]
        .concat(),
    );
    let accuracy = tlv(0x30, &1u8.to_der()?); // seconds 1
    let tst_info = tlv(
        0x30,
        &[
            1u8.to_der()?,
            TSA_POLICY.to_der()?,
            imprint,
            Uint::new(&serial)?.to_der()?,
            gen_time.to_der()?,
            accuracy,
            Uint::new(&nonce)?.to_der()?,
        ]
        .concat(),
    );

    // ESS signing-certificate-v2 (RFC 5816): binds the signer certificate, SHA-256 default.
    let cert_hash = OctetString::new(pki::sha256(tsa_cert.to_der()?).to_vec())?.to_der()?;
    let signing_cert_v2 = tlv(0x30, &tlv(0x30, &tlv(0x30, &cert_hash)));

    let signing_time = x509_cert::time::Time::try_from(UNIX_EPOCH + gen_time.to_unix_duration())?;
    let signed_attrs: SetOfVec<Attribute> = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_CT_TST_INFO)?)?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&signing_time)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(pki::sha256(&tst_info).to_vec())?)?,
        )?,
        attribute(ID_SIGNING_CERTIFICATE_V2, Any::from_der(&signing_cert_v2)?)?,
    ])?;
    // CMS signs the DER SET OF the attributes, not their [0] IMPLICIT form in SignerInfo.
    let signature_value = pki::sign_der(tsa_key, &signed_attrs.to_der()?);

    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tsa_cert.tbs_certificate.issuer.clone(),
            serial_number: tsa_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_alg(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: pki::ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: OctetString::new(signature_value)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![sha256_alg()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_CT_TST_INFO,
            econtent: Some(Any::new(Tag::OctetString, tst_info)?),
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(vec![
            CertificateChoices::Certificate(tsa_cert.clone()),
        ])?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer])?),
    };
    let token = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()
    .map_err(|e| anyhow!("encoding the timestamp token: {e}"))?;

    // TimeStampResp { status PKIStatusInfo { granted }, timeStampToken }
    let status = tlv(0x30, &0u8.to_der()?);
    Ok(tlv(0x30, &[status, token].concat()))
}
