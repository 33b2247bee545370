from tests.conftest import VVV


def test_gas(chain, vvv, staking, controller, fund, alice, bob, owner):
    fund(alice, 1_000 * VVV)
    fund(bob, 1_000 * VVV)
    staking.stake(bob, 100 * VVV, sender=bob)
    staking.stake(alice, 100 * VVV, sender=alice)
    for i in range(3):
        chain.mine(timestamp=chain.pending_timestamp + 3600)
        print("stake", staking.stake(alice, 10 * VVV, sender=alice).gas_used)
        chain.mine(timestamp=chain.pending_timestamp + 3600)
        print("claim", staking.claim(sender=alice).gas_used)
        chain.mine(timestamp=chain.pending_timestamp + 3600)
        print("initiate", staking.initiateUnstake(VVV, sender=alice).gas_used)
        chain.mine(timestamp=chain.pending_timestamp + 8 * 86400)
        print("finalize", staking.finalizeUnstake(sender=alice).gas_used)
        print("transfer", vvv.transfer(bob, VVV, sender=alice).gas_used)
