# pragma version ~=0.4.3
"""
@title TestUSDC
@custom:contract-name TestUSDC
@license GNU Affero General Public License v3.0 only
@notice A 6-decimal stand-in for USDC on local networks: snekmate's ERC-20 +
        permit, mintable by its deployer (and minters it names). On a live
        network the deploy config names the real USDC instead.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("USD Coin (test)", "USDC", 6, "USD Coin (test)", "1")
