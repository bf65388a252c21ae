using System.Buffers.Binary;
using MetaNode.Federation;

namespace MetaNode.Tests.Federation;

public sealed class ModelEncodingTests
{
    [Fact]
    public void Encode_WritesMagicShapeAndLittleEndianDoubles_WhenGivenASmallModel()
    {
        var model = new FederatedModel(2, 1, [1.5, -2.0, 0.25, -0.0]);

        var bytes = ModelEncoding.Encode(model);

        Assert.Equal(12 + 4 * 8, bytes.Length);
        Assert.Equal("MNM1"u8.ToArray(), bytes[..4]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 0, 0xF8, 0x3F }, bytes[12..20]);
        Assert.Equal(BitConverter.DoubleToInt64Bits(-0.0), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(36)));
        Assert.Equal(
            "0x4d4e4d310200000001000000000000000000f83f00000000000000c0000000000000d03f0000000000000080",
            "0x" + Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void Decode_ReturnsTheSameModel_WhenGivenItsEncoding()
    {
        var model = new FederatedModel(3, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9.125]);

        var back = ModelEncoding.Decode(ModelEncoding.Encode(model));

        Assert.Equal((model.Classes, model.Features), (back.Classes, back.Features));
        Assert.Equal(model.Parameters, back.Parameters);
        Assert.Equal(ModelEncoding.HashHex(model), ModelEncoding.HashHex(back));
    }

    [Fact]
    public void Hash_IsKeccakOfTheEncodingAndChanges_WhenOneBitChanges()
    {
        var model = new FederatedModel(1, 1, [0.1, 0.2]);
        var nudged = new FederatedModel(1, 1, [0.1, BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(0.2) + 1)]);

        Assert.Equal(FederationHashing.ToHex(FederationHashing.Keccak256(ModelEncoding.Encode(model))), ModelEncoding.HashHex(model));
        Assert.NotEqual(ModelEncoding.HashHex(model), ModelEncoding.HashHex(nudged));
        Assert.Matches("^0x[0-9a-f]{64}$", ModelEncoding.HashHex(model));
    }

    [Fact]
    public void Encode_Throws_WhenAParameterIsNotFinite()
    {
        var error = Assert.Throws<ArgumentException>(() => ModelEncoding.Encode(new FederatedModel(1, 1, [double.NaN, 0])));

        Assert.Contains("parameter 0", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4d4e4d30")]
    [InlineData("4d4e4d31010000000100000000000000")]
    [InlineData("4d4e4d310100000001000000000000000000f03f000000000000f87f")]
    public void Decode_ThrowsFormatException_WhenBytesAreNotOneCanonicalModel(string hex)
    {
        Assert.Throws<FormatException>(() => ModelEncoding.Decode(Convert.FromHexString(hex)));
    }

    [Fact]
    public void FederatedModel_Throws_WhenParameterCountDoesNotFitTheShape()
    {
        Assert.Throws<ArgumentException>(() => new FederatedModel(2, 2, new double[5]));
        Assert.Equal(6, FederatedModel.Zero(2, 2).Parameters.Length);
    }
}
