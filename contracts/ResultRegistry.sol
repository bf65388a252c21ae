// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ResultRegistry
/// @notice Records the result of each federated round once, when k distinct validators of the current set signed the
///         same EIP-712 digest. The full record is in the RoundFinalized event; storage keeps one slot per round: the
///         block it was finalized in and a 192-bit commitment to the record, so a reader finds the event and checks it.
///         The record names the model's IPFS CID (CIDv1, sha2-256), signed with the rest, so anyone can fetch the model by it.
/// @dev Gas: a finalization reads one slot besides its round's fresh one (set id, threshold and a hash of the current set),
///      takes packed calldata with 64-byte compact signatures sorted by signer address (distinctness is one comparison per
///      signature), and proves each signer's membership by rebuilding the set from the signers and the non-signers it is sent.
contract ResultRegistry {
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice EIP-712 type of a round finalization.
    bytes32 public constant FINALIZE_TYPEHASH =
        keccak256("FinalizeRound(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 receiptsRoot,bytes32 modelRef,bytes modelCid)");

    /// @notice EIP-712 type of a validator-set rotation; nonce is the current set id, so a rotation cannot be replayed.
    bytes32 public constant ROTATE_TYPEHASH =
        keccak256("RotateValidators(address[] validators,uint64 threshold,uint64 nonce)");

    bytes32 private constant NAME_HASH = keccak256("MetaNode ResultRegistry");
    bytes32 private constant VERSION_HASH = keccak256("1");
    uint256 private constant SIGNATURE_LENGTH = 65;
    uint256 private constant COMPACT_SIGNATURE_LENGTH = 64;

    /// @dev finalizeRound's packed calldata without a CID, signatures or non-signers: selector, jobId, round, resultHash,
    ///      receiptsRoot, modelRef, the CID's length and the signature count.
    uint256 private constant FINALIZE_MIN_LENGTH = 4 + 32 + 8 + 32 + 32 + 32 + 1 + 1;

    /// @dev _config: bits 0-63 the set id, 64-71 the threshold, 72-255 the high 184 bits of the set hash.
    uint256 private constant SET_HASH_SHIFT = 72;
    uint256 private constant MAX_VALIDATORS = 64;

    /// @dev The first 4 bytes of a CIDv1 with a sha2-256 multihash: version 1, codec raw (0x55) or dag-pb (0x70), 0x12 0x20.
    uint256 private constant CID_RAW_PREFIX = 0x01551220;
    uint256 private constant CID_DAG_PB_PREFIX = 0x01701220;
    uint256 private constant CID_LENGTH = 36;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @dev The current set id, threshold and set hash (keccak256(abi.encodePacked(validators)), its high 184 bits) in one slot:
    ///      a finalization reads no other state but its round's slot.
    uint256 private _config;

    /// @dev For isValidator and rotations: a validator counts only while its recorded set id is the current one (rotation
    ///      clears nobody, it moves on).
    mapping(address => uint64) private _validatorSet;
    address[] private _validators;

    /// @dev keccak256(jobId, round) => blockNumber << 192 | low 192 bits of the FinalizeRound struct hash (CID included).
    mapping(bytes32 => uint256) private _rounds;

    /// @notice `modelCid` is the model's CID in binary (36 bytes), or empty when the validators signed none.
    event RoundFinalized(
        bytes32 indexed jobId,
        uint64 indexed round,
        bytes32 resultHash,
        bytes32 receiptsRoot,
        bytes32 modelRef,
        bytes modelCid
    );
    event ValidatorsRotated(uint64 indexed setId, address[] validators, uint64 threshold);

    error RoundAlreadyFinalized(bytes32 jobId, uint64 round, uint64 blockNumber);
    error NotEnoughSignatures(uint256 given, uint256 threshold);
    error MalformedSignatures(uint256 length);
    error InvalidSignature(uint256 index);
    error SignersNotSorted(uint256 index, address signer);
    error NotAValidator(uint256 index, address signer);
    error NotTheValidatorSet(bytes32 rebuilt);
    error MalformedFinalization(uint256 length);
    error InvalidValidatorSet(string reason);
    error InvalidThreshold(uint256 threshold, uint256 validators);
    error InvalidModelCid(bytes modelCid);

    constructor(address[] memory validators_, uint64 threshold_) {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _setValidators(validators_, threshold_);
    }

    // ------------------------------------------------------------------ finalization

    /// @notice Records (jobId, round) once. Takes no ABI arguments: the calldata after the selector is packed (no words, offsets
    ///         or padding, since a transaction pays for every byte):
    ///
    ///         jobId (32) | round (8, big-endian) | resultHash (32) | receiptsRoot (32) | modelRef (32)
    ///         | cidLength (1: 0 or 36) | modelCid (cidLength) | c (1) | c signatures (64 each) | non-signers (20 each)
    ///
    ///         The signatures are EIP-2098 compact (r, then s with the y parity in its top bit) over hashFinalizeRound(...), ordered
    ///         by strictly increasing signer address; there must be at least threshold() of them. The non-signers are the addresses
    ///         of the current set's other validators, ascending: merged with the recovered signers they must rebuild exactly the
    ///         current set, whose hash the contract keeps in the slot it keeps the threshold and the set id in. So a signer that is
    ///         not a member of the current set (another key, a rotated-out validator) or a forged list of non-signers reverts
    ///         NotTheValidatorSet, and no signer's membership costs a storage read.
    /// @dev modelRef is the SHA-256 of the model's canonical bytes. modelCid is the model's IPFS CID in binary, or empty for none,
    ///      signed with the rest (as EIP-712 `bytes`: its keccak256): each validator computes it from the bytes it aggregated
    ///      (`ipfs add --cid-version 1`: 262,144-byte chunks as raw leaves, a balanced dag-pb tree above them), so no submitter can
    ///      record another. Its shape is checked: exactly 36 bytes `0x01 || codec || 0x12 0x20 || digest` with codec raw (0x55),
    ///      whose digest must then be modelRef (a model of one chunk is its own block), or dag-pb (0x70, the root node of a larger
    ///      model). Anything else reverts InvalidModelCid. The stored commitment covers it like every signed field.
    function finalizeRound() external {
        uint256 config = _config;
        bytes32 separator = _domainSeparator();
        bytes32 typehash = FINALIZE_TYPEHASH;
        bytes32 topic = RoundFinalized.selector;
        assembly ("memory-safe") {
            // Custom errors (selectors written out: assembly cannot name them; the contract tests decode every one by its name).
            function fail1(selector, a) {
                mstore(0x00, shl(224, selector))
                mstore(0x04, a)
                revert(0x00, 0x24)
            }

            function fail2(selector, a, b) {
                mstore(0x00, shl(224, selector))
                mstore(0x04, a)
                mstore(0x24, b)
                revert(0x00, 0x44)
            }

            let size := calldatasize()
            if lt(size, FINALIZE_MIN_LENGTH) {
                fail1(0x2bae69cf, size) // MalformedFinalization(uint256)
            }

            let cidLength := byte(0, calldataload(140))
            let tail := add(141, cidLength)
            if iszero(lt(tail, size)) {
                fail1(0x2bae69cf, size) // MalformedFinalization(uint256)
            }

            let ptr := mload(0x40)
            let jobId := calldataload(4)
            let round := shr(192, calldataload(36))

            // The CID's shape: none, or 36 bytes 0x01 0x55 0x12 0x20 || modelRef, or 0x01 0x70 0x12 0x20 || digest.
            if cidLength {
                let prefix := shr(224, calldataload(141))
                if iszero(
                    and(
                        eq(cidLength, CID_LENGTH),
                        or(and(eq(prefix, CID_RAW_PREFIX), eq(calldataload(145), calldataload(108))), eq(prefix, CID_DAG_PB_PREFIX))
                    )
                ) {
                    // InvalidModelCid(bytes): selector, offset, length, the bytes zero-padded to whole words.
                    mstore(ptr, shl(224, 0x9a872d24))
                    mstore(add(ptr, 0x04), 0x20)
                    mstore(add(ptr, 0x24), cidLength)
                    let padded := and(add(cidLength, 31), not(31))
                    for { let i := 0 } lt(i, padded) { i := add(i, 0x20) } {
                        mstore(add(add(ptr, 0x44), i), 0)
                    }
                    calldatacopy(add(ptr, 0x44), 141, cidLength)
                    revert(ptr, add(0x44, padded))
                }
            }

            // The round's slot: _rounds[keccak256(jobId, round)]; a round is recorded once.
            mstore(0x00, jobId)
            mstore(0x20, round)
            mstore(0x00, keccak256(0x00, 0x40))
            mstore(0x20, _rounds.slot)
            let slot := keccak256(0x00, 0x40)
            let existing := sload(slot)
            if existing {
                mstore(0x00, shl(224, 0x4a71abd7)) // RoundAlreadyFinalized(bytes32,uint64,uint64)
                mstore(0x04, jobId)
                mstore(0x24, round)
                mstore(0x44, shr(192, existing))
                revert(0x00, 0x64)
            }

            // structHash = keccak256(abi.encode(FINALIZE_TYPEHASH, jobId, round, resultHash, receiptsRoot, modelRef,
            // keccak256(modelCid))); the three hashes lie side by side in the calldata.
            calldatacopy(add(ptr, 0xe0), 141, cidLength)
            mstore(add(ptr, 0xc0), keccak256(add(ptr, 0xe0), cidLength))
            mstore(ptr, typehash)
            mstore(add(ptr, 0x20), jobId)
            mstore(add(ptr, 0x40), round)
            calldatacopy(add(ptr, 0x60), 44, 0x60)
            let structHash := keccak256(ptr, 0xe0)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            let digest := keccak256(ptr, 0x42)

            let count := byte(0, calldataload(tail))
            let offset := add(tail, 1)
            let others := add(offset, mul(count, COMPACT_SIGNATURE_LENGTH))
            if or(gt(others, size), mod(sub(size, others), 20)) {
                fail1(0x2bae69cf, size) // MalformedFinalization(uint256)
            }

            let required := and(shr(64, config), 0xff)
            if lt(count, required) {
                fail2(0x79c193d2, count, required) // NotEnoughSignatures(uint256,uint256)
            }

            // ecrecover's input at ptr (digest, v, r, s); the set rebuilt word by word after it, as abi.encodePacked(address[]):
            // before each signer, the non-signers below it (an equal one is written too: a set has no duplicates).
            mstore(ptr, digest)
            let set := add(ptr, 0x80)
            let cursor := set
            let previous := 0
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let vs := calldataload(add(offset, 0x20))
                let s := and(vs, 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)
                mstore(add(ptr, 0x20), add(27, shr(255, vs)))
                mstore(add(ptr, 0x40), calldataload(offset))
                mstore(add(ptr, 0x60), s)
                mstore(0x00, 0)
                pop(staticcall(gas(), 1, ptr, 0x80, 0x00, 0x20))
                let signer := mload(0x00)

                // Malleable (high-s) signatures are refused as EIP-2 refuses them for transactions.
                if or(gt(s, 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0), iszero(signer)) {
                    fail1(0x52bf9848, i) // InvalidSignature(uint256)
                }

                if iszero(gt(signer, previous)) {
                    fail2(0xc5b6df1f, i, signer) // SignersNotSorted(uint256,address)
                }

                for {} lt(others, size) { others := add(others, 20) } {
                    let member := shr(96, calldataload(others))
                    if gt(member, signer) { break }
                    mstore(cursor, member)
                    cursor := add(cursor, 0x20)
                }
                mstore(cursor, signer)
                cursor := add(cursor, 0x20)
                previous := signer
                offset := add(offset, COMPACT_SIGNATURE_LENGTH)
            }

            for {} lt(others, size) { others := add(others, 20) } {
                mstore(cursor, shr(96, calldataload(others)))
                cursor := add(cursor, 0x20)
            }

            let rebuilt := keccak256(set, sub(cursor, set))
            if shr(SET_HASH_SHIFT, xor(rebuilt, config)) {
                fail1(0xd515e5fc, rebuilt) // NotTheValidatorSet(bytes32)
            }

            sstore(slot, or(shl(192, number()), and(structHash, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)))

            // RoundFinalized(jobId, round, resultHash, receiptsRoot, modelRef, modelCid): the three hashes, the offset of
            // modelCid (0x80), its length and its bytes (none or 36) zero-padded to whole words.
            calldatacopy(ptr, 44, 0x60)
            mstore(add(ptr, 0x60), 0x80)
            mstore(add(ptr, 0x80), cidLength)
            let data := 0xa0
            if cidLength {
                mstore(add(ptr, 0xc0), 0)
                calldatacopy(add(ptr, 0xa0), 141, cidLength)
                data := 0xe0
            }
            log3(ptr, data, topic, jobId, round)
        }
    }

    /// @notice The block a round was finalized in (0 when it was not) and the 192-bit commitment to its record:
    ///         the low 192 bits of keccak256(abi.encode(FINALIZE_TYPEHASH, jobId, round, resultHash, receiptsRoot, modelRef,
    ///         keccak256(modelCid))).
    function getRound(bytes32 jobId, uint64 round) external view returns (uint64 blockNumber, bytes24 commitment) {
        uint256 record = _rounds[_roundKey(jobId, round)];
        return (uint64(record >> 192), bytes24(uint192(record)));
    }

    function isFinalized(bytes32 jobId, uint64 round) external view returns (bool) {
        return _rounds[_roundKey(jobId, round)] != 0;
    }

    /// @notice The EIP-712 digest validators sign for a round.
    function hashFinalizeRound(
        bytes32 jobId,
        uint64 round,
        bytes32 resultHash,
        bytes32 receiptsRoot,
        bytes32 modelRef,
        bytes calldata modelCid
    ) external view returns (bytes32) {
        return _typedDigest(_finalizeStructHash(jobId, round, resultHash, receiptsRoot, modelRef, modelCid));
    }

    // ------------------------------------------------------------------ validator set

    /// @notice Replaces the validator set; authorised by k signatures of the current set over
    ///         hashRotateValidators(newValidators, newThreshold, setId()). The new set must be sorted ascending.
    function rotateValidators(address[] calldata newValidators, uint64 newThreshold, bytes calldata signatures) external {
        _verify(_typedDigest(_rotationStructHash(newValidators, newThreshold, uint64(_config))), signatures);
        _setValidators(newValidators, newThreshold);
    }

    function hashRotateValidators(address[] calldata newValidators, uint64 newThreshold, uint64 nonce)
        external
        view
        returns (bytes32)
    {
        return _typedDigest(_rotationStructHash(newValidators, newThreshold, nonce));
    }

    function validators() external view returns (address[] memory) {
        return _validators;
    }

    function threshold() external view returns (uint64) {
        return uint64((_config >> 64) & 0xff);
    }

    /// @notice The id of the current validator set; also the nonce the next rotation must sign.
    function setId() external view returns (uint64) {
        return uint64(_config);
    }

    /// @notice What a submitter needs for finalizeRound in one call: the set id, the threshold and the validators (ascending).
    function currentSet() external view returns (uint64 id, uint64 required, address[] memory members) {
        uint256 config = _config;
        return (uint64(config), uint64((config >> 64) & 0xff), _validators);
    }

    /// @notice The high 184 bits of keccak256(abi.encodePacked(validators())) (low 72 bits zero), as finalizeRound checks them.
    function validatorSetHash() external view returns (bytes32) {
        return bytes32((_config >> SET_HASH_SHIFT) << SET_HASH_SHIFT);
    }

    function isValidator(address account) external view returns (bool) {
        return account != address(0) && _validatorSet[account] == uint64(_config);
    }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    // ------------------------------------------------------------------ internals

    function _verify(bytes32 digest, bytes calldata signatures) private view {
        uint256 length = signatures.length;
        if (length % SIGNATURE_LENGTH != 0) {
            revert MalformedSignatures(length);
        }

        uint256 count = length / SIGNATURE_LENGTH;
        uint256 config = _config;
        uint256 required = (config >> 64) & 0xff;
        uint64 current = uint64(config);
        if (count < required) {
            revert NotEnoughSignatures(count, required);
        }

        address previous = address(0);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                let offset := add(signatures.offset, mul(i, 65))
                r := calldataload(offset)
                s := calldataload(add(offset, 32))
                v := byte(0, calldataload(add(offset, 64)))
            }

            if (v < 27) {
                v += 27;
            }

            // Reject malleable (high-s) signatures as EIP-2 does for transactions.
            if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0 || (v != 27 && v != 28)) {
                revert InvalidSignature(i);
            }

            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) {
                revert InvalidSignature(i);
            }

            if (signer <= previous) {
                revert SignersNotSorted(i, signer);
            }

            if (_validatorSet[signer] != current) {
                revert NotAValidator(i, signer);
            }

            previous = signer;
        }
    }

    function _setValidators(address[] memory newValidators, uint64 newThreshold) private {
        uint256 n = newValidators.length;
        if (n == 0 || n > MAX_VALIDATORS) {
            revert InvalidValidatorSet("size must be 1-64");
        }

        if (newThreshold == 0 || newThreshold > n) {
            revert InvalidThreshold(newThreshold, n);
        }

        uint64 next = uint64(_config) + 1;
        delete _validators;
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            address validator = newValidators[i];
            if (validator <= previous) {
                revert InvalidValidatorSet("validators must be non-zero and sorted ascending, without duplicates");
            }

            _validatorSet[validator] = next;
            _validators.push(validator);
            previous = validator;
        }

        bytes32 setHash = keccak256(abi.encodePacked(newValidators));
        _config = ((uint256(setHash) >> SET_HASH_SHIFT) << SET_HASH_SHIFT) | (uint256(newThreshold) << 64) | next;
        emit ValidatorsRotated(next, newValidators, newThreshold);
    }

    function _finalizeStructHash(
        bytes32 jobId,
        uint64 round,
        bytes32 resultHash,
        bytes32 receiptsRoot,
        bytes32 modelRef,
        bytes calldata modelCid
    ) private pure returns (bytes32) {
        return keccak256(abi.encode(FINALIZE_TYPEHASH, jobId, round, resultHash, receiptsRoot, modelRef, keccak256(modelCid)));
    }

    function _rotationStructHash(address[] calldata newValidators, uint64 newThreshold, uint64 nonce)
        private
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(ROTATE_TYPEHASH, keccak256(abi.encodePacked(newValidators)), newThreshold, nonce)
        );
    }

    function _roundKey(bytes32 jobId, uint64 round) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, jobId)
            mstore(0x20, round)
            key := keccak256(0x00, 0x40)
        }
    }

    function _typedDigest(bytes32 structHash) private view returns (bytes32 digest) {
        bytes32 separator = _domainSeparator();
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    function _domainSeparator() private view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }
}
