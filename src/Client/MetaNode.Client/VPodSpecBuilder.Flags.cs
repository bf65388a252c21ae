namespace MetaNode.Client;

public sealed partial class VPodSpecBuilder
{
    /// <summary>The command-line flag each builder method stands for; error messages start with it.</summary>
    public static class Flags
    {
        public const string Name = "--name";
        public const string Type = "--type";
        public const string Cpu = "--cpu";
        public const string Memory = "--memory";
        public const string Image = "--image";
        public const string Command = "--command";
        public const string Env = "--env";
        public const string Port = "--port";
        public const string Volume = "--volume";
        public const string Label = "--label";
        public const string RestartPolicy = "--restart-policy";
        public const string DeploymentMethod = "--deployment-method";
        public const string PullSecret = "--pull-secret";
        public const string Replicas = "--replicas";
        public const string HighAvailability = "--high-availability";
        public const string Storage = "--storage";
        public const string StorageMount = "--storage-mount";
        public const string NetworkPolicy = "--network-policy";
        public const string Cluster = "--cluster";
    }
}
