"""Hypothesis strategies shared by the signing oracle tests."""

import string

from hypothesis import strategies as st

# Characters every encoder agrees on (RFC 3986 unreserved, minus `~`, which some SDKs quote).
SAFE = string.ascii_letters + string.digits + "-_."
# Names the signers set themselves (and refuse from the caller).
RESERVED = {"timestamp", "recvWindow", "signature", "nonce", "apiKey"}

keys = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12).filter(lambda k: k not in RESERVED)
values = st.text(alphabet=SAFE, min_size=1, max_size=20)
params = st.dictionaries(keys, values, max_size=8)
secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=64)
api_keys = st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=64)
timestamps_ms = st.integers(min_value=1_500_000_000_000, max_value=4_000_000_000_000)
