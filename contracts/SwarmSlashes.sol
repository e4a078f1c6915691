// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ISwarmStaking} from "./ISwarmStaking.sol";
import {
    AppealParams,
    Bonds,
    Held,
    ProviderState,
    SlashRecord,
    APPEAL_NONE,
    APPEAL_OPEN,
    APPEAL_UPHELD,
    APPEAL_REJECTED,
    APPEAL_EXPIRED
} from "./SwarmParams.sol";

/// @dev The slash records and their appeals, passed to the library as one argument.
struct SlashBook {
    mapping(bytes32 => SlashRecord) slashes;
    mapping(bytes32 => ISwarmStaking.Appeal) appeals;
}

/// @title SwarmSlashes
/// @notice What becomes of a slash proposal after it is made, for {SwarmStaking}: the security
///         council's veto (one or a batch), the provider's appeal and the council's ruling on it,
///         and the execution once the window and any appeal are over. An external library called by
///         DELEGATECALL (the staking contract's code-size limit); its events and errors are
///         {ISwarmStaking}'s, emitted from the staking contract. Role checks stay with the caller.
library SwarmSlashes {
    using SafeERC20 for IERC20;

    /// @dev `open`: whether the contract is paused, which keeps every pending slash vetoable.
    function vetoSlash(
        SlashBook storage book,
        mapping(address => ProviderState) storage providers,
        Held storage held,
        IERC20 token,
        bytes32 id,
        bytes32 reasonHash,
        bool open
    ) external {
        SlashRecord storage s = book.slashes[id];
        if (s.state != ISwarmStaking.SlashState.Pending) revert ISwarmStaking.SlashNotPending(id, s.state);
        if (!_vetoable(book, id, s, open)) revert ISwarmStaking.VetoWindowClosed(id, s.executableAt);
        _veto(book, providers, held, token, id, s, reasonHash);
    }

    /// @dev Skips ids not pending or no longer vetoable.
    function vetoSlashes(
        SlashBook storage book,
        mapping(address => ProviderState) storage providers,
        Held storage held,
        IERC20 token,
        bytes32[] calldata ids,
        bytes32 reasonHash,
        bool open
    ) external returns (uint256 vetoed) {
        for (uint256 i; i < ids.length; ++i) {
            SlashRecord storage s = book.slashes[ids[i]];
            if (s.state != ISwarmStaking.SlashState.Pending || !_vetoable(book, ids[i], s, open)) continue;
            _veto(book, providers, held, token, ids[i], s, reasonHash);
            ++vetoed;
        }
    }

    function appealSlash(
        SlashBook storage book,
        Held storage held,
        AppealParams storage params,
        IERC20 token,
        bytes32 id,
        bytes32 evidenceHash
    ) external {
        SlashRecord storage s = book.slashes[id];
        if (s.state != ISwarmStaking.SlashState.Pending) revert ISwarmStaking.SlashNotPending(id, s.state);
        if (msg.sender != s.provider) revert ISwarmStaking.NotSlashedProvider(msg.sender);
        if (block.timestamp >= s.executableAt) revert ISwarmStaking.VetoWindowClosed(id, s.executableAt);
        ISwarmStaking.Appeal storage a = book.appeals[id];
        if (a.state != APPEAL_NONE) revert ISwarmStaking.AlreadyAppealed(id);
        AppealParams memory ap = params;
        uint64 deadline = uint64(block.timestamp) + ap.timeout;
        a.state = APPEAL_OPEN;
        a.deadline = deadline;
        a.bond = ap.bond;
        a.evidenceHash = evidenceHash;
        held.appealBonds += ap.bond;
        emit ISwarmStaking.SlashAppealed(id, msg.sender, evidenceHash, ap.bond, deadline);
        token.safeTransferFrom(msg.sender, address(this), ap.bond);
    }

    /// @dev Upheld: the slash is vetoed and the bond refunded. Rejected: the bond goes to
    ///      `treasury` and the slash is executable after `grace` (not before its veto window ends).
    function resolveAppeal(
        SlashBook storage book,
        mapping(address => ProviderState) storage providers,
        Held storage held,
        IERC20 token,
        address treasury,
        uint64 grace,
        bytes32 id,
        bool upheld,
        bytes32 reasonHash
    ) external {
        ISwarmStaking.Appeal storage a = book.appeals[id];
        if (a.state != APPEAL_OPEN || block.timestamp >= a.deadline) revert ISwarmStaking.NoOpenAppeal(id);
        SlashRecord storage s = book.slashes[id];
        if (upheld) {
            _veto(book, providers, held, token, id, s, reasonHash); // refunds the bond, emits AppealResolved
            return;
        }
        a.state = APPEAL_REJECTED;
        held.appealBonds -= a.bond;
        uint64 executableAt = uint64(block.timestamp) + grace;
        if (s.executableAt > executableAt) executableAt = s.executableAt;
        s.executableAt = executableAt;
        emit ISwarmStaking.AppealResolved(id, false, reasonHash, executableAt);
        token.safeTransfer(treasury, a.bond);
    }

    /// @dev Settles an expired appeal (bond refunded), takes the slash from active stake first,
    ///      then unbonding stake, and sends it to `treasury`.
    function executeSlash(
        SlashBook storage book,
        mapping(address => ProviderState) storage providers,
        Held storage held,
        Bonds storage bonds,
        IERC20 token,
        address treasury,
        bytes32 id
    ) external {
        SlashRecord storage s = book.slashes[id];
        if (s.state != ISwarmStaking.SlashState.Pending) revert ISwarmStaking.SlashNotPending(id, s.state);
        if (block.timestamp < s.executableAt) revert ISwarmStaking.VetoWindowOpen(id, s.executableAt);
        ISwarmStaking.Appeal storage a = book.appeals[id];
        if (a.state == APPEAL_OPEN) {
            if (block.timestamp < a.deadline) revert ISwarmStaking.AppealPending(id, a.deadline);
            a.state = APPEAL_EXPIRED;
            held.appealBonds -= a.bond;
            emit ISwarmStaking.AppealExpired(id, a.bond);
            token.safeTransfer(s.provider, a.bond);
        }
        ProviderState storage p = providers[s.provider];
        uint256 amount = s.amount;
        uint256 available = p.active + p.unbonding;
        if (amount > available) amount = available; // earlier slashes may have taken part of it
        uint256 fromActive = amount <= p.active ? amount : p.active;
        uint256 fromUnbonding = amount - fromActive;
        p.active -= uint128(fromActive);
        p.pendingAmount -= s.amount;
        p.unbonding -= fromUnbonding;
        p.pendingSlashes -= 1;
        bonds.totalBonded -= uint128(amount);
        s.state = ISwarmStaking.SlashState.Executed;
        s.amount = uint128(amount);
        emit ISwarmStaking.SlashExecuted(id, s.provider, amount, fromActive, fromUnbonding);
        if (amount != 0) token.safeTransfer(treasury, amount);
    }

    /// @dev An open appeal past its deadline reads as expired before executeSlash settles it.
    function appealState(SlashBook storage book, bytes32 id) external view returns (uint8 state) {
        ISwarmStaking.Appeal storage a = book.appeals[id];
        state = a.state;
        if (state == APPEAL_OPEN && block.timestamp >= a.deadline) state = APPEAL_EXPIRED;
    }

    function _veto(
        SlashBook storage book,
        mapping(address => ProviderState) storage providers,
        Held storage held,
        IERC20 token,
        bytes32 id,
        SlashRecord storage s,
        bytes32 reasonHash
    ) private {
        s.state = ISwarmStaking.SlashState.Vetoed;
        ProviderState storage p = providers[s.provider];
        p.pendingSlashes -= 1;
        p.pendingAmount -= s.amount;
        emit ISwarmStaking.SlashVetoed(id, s.provider, msg.sender, reasonHash);
        ISwarmStaking.Appeal storage a = book.appeals[id];
        if (a.state == APPEAL_OPEN) {
            // A veto of an appealed slash upholds the appeal, even past its deadline: the bond
            // goes back to the provider either way.
            a.state = APPEAL_UPHELD;
            held.appealBonds -= a.bond;
            emit ISwarmStaking.AppealResolved(id, true, reasonHash, 0);
            token.safeTransfer(s.provider, a.bond);
        }
    }

    /// @dev Whether the council may still veto pending slash `s`: inside its veto window, while
    ///      paused, or while it has an unsettled appeal.
    function _vetoable(SlashBook storage book, bytes32 id, SlashRecord storage s, bool open)
        private
        view
        returns (bool)
    {
        return open || block.timestamp < s.executableAt || book.appeals[id].state == APPEAL_OPEN;
    }
}
