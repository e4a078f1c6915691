"""The local testnet: a node process (Anvil or Hardhat), the default-mnemonic accounts, and set-up."""
