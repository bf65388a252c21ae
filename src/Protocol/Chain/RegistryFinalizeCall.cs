namespace MetaNode.Chain;

/// <summary>
/// A <c>finalizeRound()</c> call read back from its packed calldata (<see cref="RegistryFinalizeCalldata.Decode"/>): the round as
/// signed, the binary model CID it carried, the signatures in their order (65-byte <c>r ‖ s ‖ v</c> hex, as validators sign) and
/// the non-signers of the validator set it was sent with.
/// </summary>
public sealed record RegistryFinalizeCall(RoundResult Round, byte[] ModelCid, IReadOnlyList<string> Signatures, IReadOnlyList<string> NonSigners);
