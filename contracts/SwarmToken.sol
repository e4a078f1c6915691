// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title SwarmToken
/// @notice Devnet ERC-20 used as the stake and reward token. The whole supply is minted
///         once at deployment; `MINTER_ROLE` may mint more for test fixtures.
contract SwarmToken is ERC20, AccessControl {
    /// @notice Role allowed to mint new tokens.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin receives the initial supply, the admin role and the minter role
    /// @param initialSupply amount minted to `admin`, in base units (18 decimals)
    constructor(address admin, uint256 initialSupply) ERC20("Swarm Token", "SWARM") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
        _mint(admin, initialSupply);
    }

    /// @notice Mints `amount` base units to `to`. Emits {Transfer}.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
