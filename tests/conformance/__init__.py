"""ERC-20 and EIP-2612 conformance of VVV and DIEM: public property sets ported to hypothesis."""
