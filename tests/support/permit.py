"""EIP-2612 permits signed with a real key, for the VVV and DIEM tests."""

from __future__ import annotations

from eth_account import Account

PERMIT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


def sign_permit(domain_name, token, chain, key, owner, spender, value, nonce, deadline):
    """(v, r, s) of `key`'s permit, in the EIP-712 domain (domain_name, "1", chain, token)."""
    message = {
        "types": PERMIT_TYPES,
        "primaryType": "Permit",
        "domain": {
            "name": domain_name,
            "version": "1",
            "chainId": chain.chain_id,
            "verifyingContract": token.address,
        },
        "message": {
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    signed = Account.sign_typed_data(key, full_message=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
