// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ResultRegistry
/// @notice Records the result of each federated round once, when k distinct validators of the current set signed the
///         same EIP-712 digest. The full record is in the RoundFinalized event; storage keeps one slot per round: the
///         block it was finalized in and a 192-bit commitment to the record, so a reader finds the event and checks it.
///         The record names the model's IPFS CID (CIDv1, sha2-256), signed with the rest, so anyone can fetch the model by it.
/// @dev Gas: one fresh storage slot per round, one cold SLOAD per signer (the signer's set id), signatures packed
///      65 bytes each (r, s, v) and sorted by signer address so distinctness is one comparison per signature.
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
    uint256 private constant MAX_VALIDATORS = 64;

    /// @dev The first 4 bytes of a CIDv1 with a sha2-256 multihash: version 1, codec raw (0x55) or dag-pb (0x70), 0x12 0x20.
    uint256 private constant CID_RAW_PREFIX = 0x01551220;
    uint256 private constant CID_DAG_PB_PREFIX = 0x01701220;
    uint256 private constant CID_LENGTH = 36;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @dev Threshold and current set id share one slot: one SLOAD per finalization.
    uint64 private _threshold;
    uint64 private _setId;

    /// @dev A validator counts only while its recorded set id is the current one: rotation clears nobody, it moves on.
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
    error InvalidValidatorSet(string reason);
    error InvalidThreshold(uint256 threshold, uint256 validators);
    error InvalidModelCid(bytes modelCid);

    constructor(address[] memory validators_, uint64 threshold_) {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _setValidators(validators_, threshold_);
    }

    // ------------------------------------------------------------------ finalization

    /// @notice Records (jobId, round) once. `signatures` is k or more 65-byte (r, s, v) signatures over
    ///         hashFinalizeRound(...), ordered by strictly increasing signer address.
    /// @param modelRef The SHA-256 of the model's canonical bytes.
    /// @param modelCid The model's IPFS CID in binary, or empty for none, signed with the rest (as EIP-712 `bytes`: its
    ///        keccak256): each validator computes it from the bytes it aggregated (`ipfs add --cid-version 1`: 262,144-byte
    ///        chunks as raw leaves, a balanced dag-pb tree above them), so no submitter can record another. The contract also
    ///        checks its shape: exactly 36 bytes `0x01 || codec || 0x12 0x20 || digest` with codec raw (0x55), whose digest
    ///        must then be modelRef (a model of one chunk is its own block), or dag-pb (0x70, the root node of a larger
    ///        model). Anything else reverts InvalidModelCid. The stored commitment covers it like every signed field.
    function finalizeRound(
        bytes32 jobId,
        uint64 round,
        bytes32 resultHash,
        bytes32 receiptsRoot,
        bytes32 modelRef,
        bytes calldata modelCid,
        bytes calldata signatures
    ) external {
        if (modelCid.length != 0) {
            _checkModelCid(modelCid, modelRef);
        }

        bytes32 key = _roundKey(jobId, round);
        uint256 existing = _rounds[key];
        if (existing != 0) {
            revert RoundAlreadyFinalized(jobId, round, uint64(existing >> 192));
        }

        bytes32 structHash = _finalizeStructHash(jobId, round, resultHash, receiptsRoot, modelRef, modelCid);
        _verify(_typedDigest(structHash), signatures);
        _rounds[key] = (block.number << 192) | (uint256(structHash) & type(uint192).max);
        _emitRoundFinalized(jobId, round, resultHash, receiptsRoot, modelRef, modelCid);
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
        _verify(_typedDigest(_rotationStructHash(newValidators, newThreshold, _setId)), signatures);
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
        return _threshold;
    }

    /// @notice The id of the current validator set; also the nonce the next rotation must sign.
    function setId() external view returns (uint64) {
        return _setId;
    }

    function isValidator(address account) external view returns (bool) {
        return account != address(0) && _validatorSet[account] == _setId;
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
        uint64 required = _threshold;
        uint64 current = _setId;
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

    /// @dev emit RoundFinalized(jobId, round, resultHash, receiptsRoot, modelRef, modelCid), ABI-encoded by hand past the free
    ///      memory pointer (about 100 gas less than the compiler's encoder): modelCid is empty or 36 bytes (checked before), so
    ///      its tail is the length word and no or two data words, zero-padded.
    function _emitRoundFinalized(
        bytes32 jobId,
        uint64 round,
        bytes32 resultHash,
        bytes32 receiptsRoot,
        bytes32 modelRef,
        bytes calldata modelCid
    ) private {
        bytes32 topic = RoundFinalized.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let length := modelCid.length
            mstore(ptr, resultHash)
            mstore(add(ptr, 0x20), receiptsRoot)
            mstore(add(ptr, 0x40), modelRef)
            mstore(add(ptr, 0x60), 0x80)
            mstore(add(ptr, 0x80), length)
            let size := 0xa0
            if length {
                mstore(add(ptr, 0xc0), 0)
                calldatacopy(add(ptr, 0xa0), modelCid.offset, length)
                size := 0xe0
            }
            log3(ptr, size, topic, jobId, round)
        }
    }

    /// @dev A CIDv1 of 36 bytes with a sha2-256 multihash, raw (digest = modelRef) or dag-pb; reverts otherwise.
    function _checkModelCid(bytes calldata modelCid, bytes32 modelRef) private pure {
        uint256 prefix;
        bytes32 digest;
        assembly ("memory-safe") {
            prefix := shr(224, calldataload(modelCid.offset))
            digest := calldataload(add(modelCid.offset, 4))
        }

        if (
            modelCid.length != CID_LENGTH
                || (prefix == CID_RAW_PREFIX ? digest != modelRef : prefix != CID_DAG_PB_PREFIX)
        ) {
            revert InvalidModelCid(modelCid);
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

        uint64 next = _setId + 1;
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

        _threshold = newThreshold;
        _setId = next;
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
