// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Governance's timelock is OpenZeppelin's TimelockController, used as the npm package ships it.
// Importing it here makes `hardhat build` compile it and emit its artifact for the deploy tooling.
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
