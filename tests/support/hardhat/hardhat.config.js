// The Hardhat node that tests/integration/test_hardhat_node.py deploys the suite to: a second
// node implementation beside Anvil. Started as
//   node_modules/.bin/hardhat node --config tests/support/hardhat/hardhat.config.js --port PORT
// Nothing is compiled here (the contracts are Vyper, built by ape); only the built-in network.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "prague",
      // The same test accounts as Anvil and ape's TEST::N.
      accounts: {
        mnemonic: "test test test test test test test test test test test junk",
        count: 10,
      },
    },
  },
};
