//! Venue signers and `SignedRequest`. Secrets go in and never come back out.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyList, PyString, PyTuple};

use super::errors::{invalid, PyResultExt};
use super::spec::PySide;
use crate::sign::binance::BinanceSigner;
use crate::sign::bybit::BybitSigner;
use crate::sign::coinbase::CoinbaseSigner;
use crate::sign::kraken::KrakenSigner;
use crate::sign::okx::OkxSigner;
use crate::sign::polymarket::{OrderArgs, PolymarketSigner, SignatureType, SignedOrder};
use crate::sign::polymarket_tx::TxArgs;
use crate::sign::{keystore, Param, Secret, SignedRequest, SENSITIVE_HEADERS};
use zeroize::Zeroizing;

fn param(k: &str, v: &Bound<'_, PyAny>) -> PyResult<Param> {
    if let Ok(s) = v.downcast::<PyString>() {
        Ok(Param::Str(s.to_str()?.to_owned()))
    } else if let Ok(b) = v.downcast::<PyBool>() {
        Ok(Param::Bool(b.is_true()))
    } else if v.is_instance_of::<PyInt>() {
        Ok(Param::Int(v.extract().map_err(|_| invalid(format!("parameter {k:?} does not fit 64 bits")))?))
    } else {
        Err(invalid(format!(
            "parameter {k:?} must be str, int or bool, got {}",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        )))
    }
}

fn pair(item: &Bound<'_, PyAny>) -> PyResult<(String, Param)> {
    let t = item.downcast::<PyTuple>().map_err(|_| invalid("each parameter must be a (name, value) tuple"))?;
    if t.len() != 2 {
        return Err(invalid("each parameter must be a (name, value) tuple"));
    }
    let k = t.get_borrowed_item(0)?;
    let k = k.downcast::<PyString>().map_err(|_| invalid("parameter names must be str"))?.to_str()?.to_owned();
    let v = param(&k, &t.get_borrowed_item(1)?.to_owned())?;
    Ok((k, v))
}

/// Request parameters: a sequence of (name, value) tuples with str, int or bool values.
fn params(items: &Bound<'_, PyAny>) -> PyResult<Vec<(String, Param)>> {
    if let Ok(list) = items.downcast::<PyList>() {
        let mut out = Vec::with_capacity(list.len() + 2);
        for item in list.iter() {
            out.push(pair(&item)?);
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for item in items.try_iter()? {
        out.push(pair(&item?)?);
    }
    Ok(out)
}

/// Secret material from an encrypted keystore (v3). Decrypted in Rust; the plaintext never comes back.
#[pyclass(module = "trader._core", name = "Keystore", frozen)]
pub(crate) struct PyKeystore {
    secret: Secret,
}

#[pymethods]
impl PyKeystore {
    /// Decrypt a keystore v3 JSON document (scrypt or PBKDF2, AES-128-CTR) with `password`.
    #[staticmethod]
    fn decrypt(keystore_json: &str, password: &str) -> PyResult<Self> {
        Ok(PyKeystore { secret: keystore::decrypt(keystore_json.as_bytes(), password.as_bytes()).py()? })
    }
    /// Encrypt `plaintext` (an API secret, a private key) as keystore v3 JSON with scrypt (n = 2^log_n).
    /// `salt` (32 bytes) and `iv` (16 bytes) must be fresh random bytes, e.g. `os.urandom`.
    #[staticmethod]
    #[pyo3(signature = (plaintext, password, *, salt, iv, log_n=18, id="00000000-0000-4000-8000-000000000000"))]
    fn encrypt(plaintext: &str, password: &str, salt: &[u8], iv: &[u8], log_n: u8, id: &str) -> PyResult<String> {
        let salt: &[u8; 32] = salt.try_into().map_err(|_| invalid("salt must be 32 bytes"))?;
        let iv: &[u8; 16] = iv.try_into().map_err(|_| invalid("iv must be 16 bytes"))?;
        keystore::encrypt(plaintext.as_bytes(), password.as_bytes(), salt, iv, log_n, id).py()
    }
    fn __repr__(&self) -> &'static str {
        "Keystore(***)"
    }
}

/// A secret given as text or as a decrypted `Keystore`.
fn secret_text(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<String>> {
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(Zeroizing::new(s.to_str()?.to_owned()));
    }
    if let Ok(k) = v.downcast::<PyKeystore>() {
        let bytes = k.get().secret.expose();
        if what == "private key" && bytes.len() == 32 {
            return Ok(Zeroizing::new(crate::sign::crypto::hex_lower(bytes)));
        }
        return std::str::from_utf8(bytes).map(|t| Zeroizing::new(t.to_owned())).map_err(|_| {
            super::errors::to_py(crate::error::CoreError::Credential(format!("keystore {what} is not text")))
        });
    }
    Err(invalid(format!("{what} must be a str or a Keystore")))
}

/// A request ready to send: method, path, query string, body bytes and headers.
#[pyclass(module = "trader._core", name = "SignedRequest", frozen)]
pub(crate) struct PySignedRequest {
    inner: SignedRequest,
}

#[pymethods]
impl PySignedRequest {
    #[getter]
    fn method(&self) -> &str {
        &self.inner.method
    }
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    #[getter]
    fn query(&self) -> &str {
        &self.inner.query
    }
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.body)
    }
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.inner.headers.clone()
    }
    /// `path?query` (or just the path).
    #[getter]
    fn target(&self) -> String {
        if self.inner.query.is_empty() {
            self.inner.path.clone()
        } else {
            format!("{}?{}", self.inner.path, self.inner.query)
        }
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

fn wrap(r: SignedRequest) -> PySignedRequest {
    PySignedRequest { inner: r }
}

/// Binance HMAC-SHA256 signer (spot, USD-M futures, margin).
#[pyclass(module = "trader._core", name = "BinanceSigner", frozen)]
pub(crate) struct PyBinanceSigner {
    inner: BinanceSigner,
}

#[pymethods]
impl PyBinanceSigner {
    #[new]
    fn new(api_key: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyBinanceSigner { inner: BinanceSigner::new(api_key, &secret_text(secret, "secret")?).py()? })
    }
    /// A signer for an Ed25519 API key (PKCS#8 PEM private key).
    #[staticmethod]
    fn ed25519(api_key: &str, private_key_pem: &Bound<'_, PyAny>) -> PyResult<Self> {
        let pem = secret_text(private_key_pem, "secret")?;
        Ok(PyBinanceSigner { inner: BinanceSigner::new_ed25519(api_key, &pem).py()? })
    }
    /// Sort the params with recvWindow and timestamp, sign the exact query string, append signature.
    #[pyo3(signature = (method, path, params, timestamp_ms, recv_window_ms=None))]
    fn sign(
        &self,
        method: &str,
        path: &str,
        params: &Bound<'_, PyAny>,
        timestamp_ms: u64,
        recv_window_ms: Option<u64>,
    ) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.sign(method, path, p, timestamp_ms, recv_window_ms).py()?))
    }
    /// The signed `params` JSON object of a WebSocket API request (apiKey, timestamp added; sorted).
    #[pyo3(signature = (params, timestamp_ms, recv_window_ms=None))]
    fn ws_params(&self, params: &Bound<'_, PyAny>, timestamp_ms: u64, recv_window_ms: Option<u64>) -> PyResult<String> {
        let p = self::params(params)?;
        self.inner.ws_params(p, timestamp_ms, recv_window_ms).py()
    }
    /// Hex HMAC-SHA256 of an exact payload (WebSocket API requests, user-data subscriptions).
    fn signature(&self, payload: &[u8]) -> String {
        self.inner.signature(payload)
    }
    fn __repr__(&self) -> &'static str {
        "BinanceSigner(***)"
    }
}

/// Bybit v5 HMAC-SHA256 signer.
#[pyclass(module = "trader._core", name = "BybitSigner", frozen)]
pub(crate) struct PyBybitSigner {
    inner: BybitSigner,
}

#[pymethods]
impl PyBybitSigner {
    #[new]
    fn new(api_key: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyBybitSigner { inner: BybitSigner::new(api_key, &secret_text(secret, "secret")?).py()? })
    }
    #[pyo3(signature = (method, path, params, timestamp_ms, recv_window_ms=5000))]
    fn sign(
        &self,
        method: &str,
        path: &str,
        params: &Bound<'_, PyAny>,
        timestamp_ms: u64,
        recv_window_ms: u64,
    ) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.sign(method, path, &p, timestamp_ms, recv_window_ms).py()?))
    }
    /// Hex HMAC-SHA256 of `timestamp + apiKey + recvWindow + payload`.
    fn signature(&self, timestamp_ms: u64, recv_window_ms: u64, payload: &[u8]) -> String {
        self.inner.signature(timestamp_ms, recv_window_ms, payload)
    }
    /// The private WebSocket login: (apiKey, expires, signature of `"GET/realtime" + expires`).
    fn ws_auth(&self, expires_ms: u64) -> (String, u64, String) {
        self.inner.ws_auth(expires_ms)
    }
    fn __repr__(&self) -> &'static str {
        "BybitSigner(***)"
    }
}

/// OKX v5 signer (REST and WebSocket login).
#[pyclass(module = "trader._core", name = "OkxSigner", frozen)]
pub(crate) struct PyOkxSigner {
    inner: OkxSigner,
}

#[pymethods]
impl PyOkxSigner {
    #[new]
    #[pyo3(signature = (api_key, secret, passphrase, *, simulated=false))]
    fn new(api_key: &str, secret: &Bound<'_, PyAny>, passphrase: &Bound<'_, PyAny>, simulated: bool) -> PyResult<Self> {
        let (secret, passphrase) = (secret_text(secret, "secret")?, secret_text(passphrase, "passphrase")?);
        Ok(PyOkxSigner { inner: OkxSigner::new(api_key, &secret, &passphrase, simulated).py()? })
    }
    fn sign(
        &self,
        method: &str,
        path: &str,
        params: &Bound<'_, PyAny>,
        timestamp_ms: u64,
    ) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.sign(method, path, &p, timestamp_ms).py()?))
    }
    /// base64 HMAC-SHA256 of an exact pre-hash string.
    fn signature(&self, prehash: &[u8]) -> String {
        self.inner.signature(prehash)
    }
    /// The `args[0]` of a WebSocket login: apiKey, passphrase, timestamp (seconds, as a string), sign.
    fn ws_login(&self, timestamp_s: u64) -> PyResult<(String, String, String, String)> {
        self.inner.ws_login(timestamp_s).py()
    }
    fn __repr__(&self) -> &'static str {
        "OkxSigner(***)"
    }
}

/// Kraken spot REST signer with a strictly increasing nonce.
#[pyclass(module = "trader._core", name = "KrakenSigner")]
pub(crate) struct PyKrakenSigner {
    inner: KrakenSigner,
}

#[pymethods]
impl PyKrakenSigner {
    #[new]
    #[pyo3(signature = (api_key, secret, *, last_nonce=0))]
    fn new(api_key: &str, secret: &Bound<'_, PyAny>, last_nonce: u64) -> PyResult<Self> {
        Ok(PyKrakenSigner { inner: KrakenSigner::new(api_key, &secret_text(secret, "secret")?, last_nonce).py()? })
    }
    /// The last nonce used: persist it and pass it back as `last_nonce` after a restart.
    #[getter]
    fn last_nonce(&self) -> u64 {
        self.inner.last_nonce()
    }
    fn sign(&mut self, path: &str, params: &Bound<'_, PyAny>, now_ns: u64) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.sign(path, p, now_ns).py()?))
    }
    /// What `sign` would return at `now_ns`, its nonce left untaken (an order's rehearsal).
    fn rehearse(&self, path: &str, params: &Bound<'_, PyAny>, now_ns: u64) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.rehearse(path, p, now_ns).py()?))
    }
    /// API-Sign for an exact body with a given nonce.
    fn signature(&self, path: &str, nonce: u64, body: &[u8]) -> String {
        self.inner.signature(path, nonce, body)
    }
    fn __repr__(&self) -> String {
        format!("KrakenSigner(***, last_nonce={})", self.inner.last_nonce())
    }
}

/// A signed CLOB V2 order: its fields, signature and EIP-712 hash (the venue's order id).
#[pyclass(module = "trader._core", name = "PolymarketOrder", frozen)]
pub(crate) struct PyPolymarketOrder {
    inner: SignedOrder,
}

#[pymethods]
impl PyPolymarketOrder {
    #[getter]
    fn version(&self) -> u8 {
        self.inner.version
    }
    #[getter]
    fn nonce(&self) -> u64 {
        self.inner.nonce
    }
    #[getter]
    fn fee_rate_bps(&self) -> u64 {
        self.inner.fee_rate_bps
    }
    #[getter]
    fn salt(&self) -> u64 {
        self.inner.salt
    }
    #[getter]
    fn maker(&self) -> &str {
        &self.inner.maker
    }
    #[getter]
    fn signer(&self) -> &str {
        &self.inner.signer
    }
    #[getter]
    fn token_id(&self) -> &str {
        &self.inner.token_id
    }
    #[getter]
    fn maker_amount(&self) -> u128 {
        self.inner.maker_amount
    }
    #[getter]
    fn taker_amount(&self) -> u128 {
        self.inner.taker_amount
    }
    #[getter]
    fn side(&self) -> PySide {
        self.inner.side.into()
    }
    #[getter]
    fn signature_type(&self) -> u8 {
        self.inner.signature_type as u8
    }
    #[getter]
    fn timestamp_ms(&self) -> u64 {
        self.inner.timestamp_ms
    }
    #[getter]
    fn expiration(&self) -> u64 {
        self.inner.expiration
    }
    #[getter]
    fn signature(&self) -> &str {
        &self.inner.signature
    }
    #[getter]
    fn hash(&self) -> &str {
        &self.inner.hash
    }
    /// The `POST /order` JSON body, as py-clob-client-v2 serializes it.
    #[pyo3(signature = (owner, order_type="GTC", post_only=false, defer_exec=false))]
    fn body(&self, owner: &str, order_type: &str, post_only: bool, defer_exec: bool) -> String {
        self.inner.body(owner, order_type, post_only, defer_exec)
    }
    fn __repr__(&self) -> String {
        format!(
            "PolymarketOrder(hash={}, side={:?}, maker_amount={}, taker_amount={})",
            self.inner.hash, self.inner.side, self.inner.maker_amount, self.inner.taker_amount
        )
    }
}

/// Polymarket wallet signer: CLOB V2 orders (EIP-712), L1 and L2 headers. Keys stay inside.
#[pyclass(module = "trader._core", name = "PolymarketSigner")]
pub(crate) struct PyPolymarketSigner {
    inner: PolymarketSigner,
}

fn sig_type(v: u8) -> PyResult<SignatureType> {
    Ok(match v {
        0 => SignatureType::Eoa,
        1 => SignatureType::PolyProxy,
        2 => SignatureType::PolyGnosisSafe,
        3 => SignatureType::Poly1271,
        _ => {
            return Err(invalid(format!(
                "signature_type {v} is not EOA (0), POLY_PROXY (1), POLY_GNOSIS_SAFE (2) or POLY_1271 (3)"
            )))
        }
    })
}

#[pymethods]
impl PyPolymarketSigner {
    #[new]
    #[pyo3(signature = (private_key, *, chain_id=137, signature_type=0, funder=None))]
    fn new(private_key: &Bound<'_, PyAny>, chain_id: u64, signature_type: u8, funder: Option<&str>) -> PyResult<Self> {
        let key = secret_text(private_key, "private key")?;
        Ok(PyPolymarketSigner { inner: PolymarketSigner::new(&key, chain_id, sig_type(signature_type)?, funder).py()? })
    }
    /// The signing EOA, EIP-55 checksummed.
    #[getter]
    fn address(&self) -> &str {
        self.inner.address()
    }
    /// The address holding the funds (the maker): the EOA itself, or the proxy / Safe.
    #[getter]
    fn funder(&self) -> &str {
        self.inner.funder()
    }
    fn set_api_creds(
        &mut self,
        api_key: &str,
        secret: &Bound<'_, PyAny>,
        passphrase: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let (secret, passphrase) = (secret_text(secret, "secret")?, secret_text(passphrase, "passphrase")?);
        self.inner.set_api_creds(api_key, &secret, &passphrase).py()
    }
    #[pyo3(signature = (timestamp_s, nonce=0))]
    fn l1_headers(&self, timestamp_s: u64, nonce: u64) -> PyResult<Vec<(String, String)>> {
        self.inner.l1_headers(timestamp_s, nonce).py()
    }
    #[pyo3(signature = (timestamp_s, method, path, body=None))]
    fn l2_headers(
        &self,
        timestamp_s: u64,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> PyResult<Vec<(String, String)>> {
        self.inner.l2_headers(timestamp_s, method, path, body.unwrap_or_default()).py()
    }
    #[pyo3(signature = (token_id, price, size, side, *, tick_size, neg_risk, salt, timestamp_ms, expiration=0, metadata=None, builder=None, version=2, nonce=0, fee_rate_bps=0))]
    #[allow(clippy::too_many_arguments)]
    fn order(
        &self,
        token_id: &str,
        price: &str,
        size: &str,
        side: PySide,
        tick_size: &str,
        neg_risk: bool,
        salt: u64,
        timestamp_ms: u64,
        expiration: u64,
        metadata: Option<&str>,
        builder: Option<&str>,
        version: u8,
        nonce: u64,
        fee_rate_bps: u64,
    ) -> PyResult<PyPolymarketOrder> {
        let a = OrderArgs {
            token_id,
            price,
            size,
            side: side.into(),
            tick_size,
            neg_risk,
            salt,
            timestamp_ms,
            expiration,
            metadata,
            builder,
            version,
            nonce,
            fee_rate_bps,
        };
        Ok(PyPolymarketOrder { inner: self.inner.order(&a).py()? })
    }
    /// `POST /order`: sign the order, serialize the body once and sign that body for the L2 headers.
    #[pyo3(signature = (token_id, price, size, side, *, tick_size, neg_risk, salt, timestamp_ms, timestamp_s, order_type="GTC", post_only=false, defer_exec=false, expiration=0, version=2))]
    #[allow(clippy::too_many_arguments)]
    fn post_order(
        &self,
        token_id: &str,
        price: &str,
        size: &str,
        side: PySide,
        tick_size: &str,
        neg_risk: bool,
        salt: u64,
        timestamp_ms: u64,
        timestamp_s: u64,
        order_type: &str,
        post_only: bool,
        defer_exec: bool,
        expiration: u64,
        version: u8,
    ) -> PyResult<(PyPolymarketOrder, PySignedRequest)> {
        let a = OrderArgs {
            token_id,
            price,
            size,
            side: side.into(),
            tick_size,
            neg_risk,
            salt,
            timestamp_ms,
            expiration,
            metadata: None,
            builder: None,
            version,
            nonce: 0,
            fee_rate_bps: 0,
        };
        let (o, r) = self.inner.post_order(&a, order_type, post_only, defer_exec, timestamp_s).py()?;
        Ok((PyPolymarketOrder { inner: o }, wrap(r)))
    }
    /// A signed legacy EIP-155 Polygon transaction from the signing EOA: (raw, hash), 0x hex.
    #[pyo3(signature = (*, nonce, gas_price, gas, to, data, value=0))]
    fn sign_transaction(
        &self,
        nonce: u64,
        gas_price: u128,
        gas: u64,
        to: &str,
        data: &str,
        value: u128,
    ) -> PyResult<(String, String)> {
        let t = TxArgs { nonce, gas_price, gas, to, value, data };
        self.inner.sign_transaction(&t).py()
    }
    fn __repr__(&self) -> String {
        format!("PolymarketSigner(address={})", self.inner.address())
    }
}

/// Coinbase Advanced Trade signer: a fresh JWT per request (ES256 or EdDSA).
#[pyclass(module = "trader._core", name = "CoinbaseSigner", frozen)]
pub(crate) struct PyCoinbaseSigner {
    inner: CoinbaseSigner,
}

#[pymethods]
impl PyCoinbaseSigner {
    #[new]
    #[pyo3(signature = (api_key, private_key, *, host="api.coinbase.com"))]
    fn new(api_key: &str, private_key: &Bound<'_, PyAny>, host: &str) -> PyResult<Self> {
        let key = secret_text(private_key, "secret")?;
        Ok(PyCoinbaseSigner { inner: CoinbaseSigner::new(api_key, &key, host).py()? })
    }
    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm()
    }
    /// A JWT for a REST `uri` ("GET api.coinbase.com/api/v3/brokerage/accounts"), or for the WebSocket.
    #[pyo3(signature = (uri, now_s, nonce))]
    fn jwt(&self, uri: Option<&str>, now_s: u64, nonce: &str) -> PyResult<String> {
        self.inner.jwt(uri, now_s, nonce).py()
    }
    fn sign(
        &self,
        method: &str,
        path: &str,
        params: &Bound<'_, PyAny>,
        now_s: u64,
        nonce: &str,
    ) -> PyResult<PySignedRequest> {
        let p = self::params(params)?;
        Ok(wrap(self.inner.sign(method, path, &p, now_s, nonce).py()?))
    }
    fn __repr__(&self) -> String {
        format!("CoinbaseSigner({}, ***)", self.inner.algorithm())
    }
}

/// Alpaca key headers (APCA-API-KEY-ID / APCA-API-SECRET-KEY). The secret is sent as is.
#[pyclass(module = "trader._core", name = "AlpacaSigner", frozen)]
pub(crate) struct PyAlpacaSigner {
    key_id: String,
    secret: Secret,
}

#[pymethods]
impl PyAlpacaSigner {
    #[new]
    fn new(key_id: &str, secret: &Bound<'_, PyAny>) -> PyResult<Self> {
        let text = secret_text(secret, "secret")?;
        Ok(PyAlpacaSigner {
            key_id: crate::sign::binance::api_key("alpaca", key_id).py()?,
            secret: Secret::new("alpaca api secret", text.as_bytes().to_vec()).py()?,
        })
    }
    /// The two authentication headers.
    fn headers(&self) -> PyResult<Vec<(String, String)>> {
        let secret = std::str::from_utf8(self.secret.expose()).map_err(|_| invalid("alpaca secret is not text"))?;
        Ok(vec![
            ("APCA-API-KEY-ID".to_owned(), self.key_id.clone()),
            ("APCA-API-SECRET-KEY".to_owned(), secret.to_owned()),
        ])
    }
    fn __repr__(&self) -> &'static str {
        "AlpacaSigner(***)"
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySignedRequest>()?;
    m.add_class::<PyBinanceSigner>()?;
    m.add_class::<PyBybitSigner>()?;
    m.add_class::<PyOkxSigner>()?;
    m.add_class::<PyKrakenSigner>()?;
    m.add("SENSITIVE_HEADERS", SENSITIVE_HEADERS.to_vec())?;
    m.add_class::<PyAlpacaSigner>()?;
    m.add_class::<PyCoinbaseSigner>()?;
    m.add_class::<PyKeystore>()?;
    m.add_class::<PyPolymarketOrder>()?;
    m.add_class::<PyPolymarketSigner>()?;
    Ok(())
}
