// Hardhat 3 config. The Solidity compiler is the npm `solc` package (solcjs, WebAssembly)
// so builds work offline; its version must equal `version` below (package.json pins it).
import { fileURLToPath } from "node:url";

export default {
  solidity: {
    version: "0.8.28",
    path: fileURLToPath(import.meta.resolve("solc/soljson.js")),
    // Governance's timelock is OpenZeppelin's TimelockController as the npm package ships it:
    // Hardhat 3 emits artifacts only for root files, so the package's file is built as a root
    // (artifacts/@openzeppelin/contracts/governance/TimelockController.sol/).
    npmFilesToBuild: ["@openzeppelin/contracts/governance/TimelockController.sol"],
    settings: {
      // runs 150, not 200: SwarmStaking stays under the 24,576-byte code limit (EIP-170).
      optimizer: { enabled: true, runs: 150 },
      viaIR: true,
      evmVersion: "cancun",
    },
  },
  paths: {
    sources: "./contracts",
    artifacts: "./artifacts",
    cache: "./cache",
  },
  networks: {
    // `npx hardhat node` serves this in-process EDR chain (the alternative devnet).
    hardhat: {
      type: "edr-simulated",
      chainId: 31337,
    },
  },
};
