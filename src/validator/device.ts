// What a renter or checker asks a miner for: the `device_requirement` of an Allocate request,
// shared by the renter's requests (rent.ts) and the checker's test rental (checker.ts).

export interface DeviceRequirement {
  cpu: { count: number };
  ram: { capacity: number };
  hard_disk: { capacity: number };
  gpu: { count?: number | 'all'; capacity?: number; type?: string };
}
