namespace PSSwarm;

public enum NodeRole { Worker, Manager }

public enum NodeAvailability { Active, Pause, Drain }

public enum NodeStatus { Unknown, Down, Ready, Disconnected }

public enum Reachability { Unknown, Unreachable, Reachable }

public enum LocalNodeState { Inactive, Pending, Active, Error, Locked }
