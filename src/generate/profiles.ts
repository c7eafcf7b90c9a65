import type { Rng } from '../rng.js';

/** How a site's surroundings set its radio and traffic levels. */
export type SiteClass = 'urban' | 'suburban' | 'rural';

export interface SectorProfile {
  site: string;
  sector: string;
  siteClass: SiteClass;
  rsrpBaseDbm: number;
  sinrBaseDb: number;
  peakUsers: number;
  peakRateMbps: number;
  cpuBasePct: number;
  /** Phase of the slow weekly RSRP swing (weather, foliage), radians. */
  rsrpPhaseRad: number;
  /** Share of business (daytime) traffic against residential (evening) traffic. */
  businessShare: number;
  weekendFactor: number;
}

const CLASS_LEVELS: Record<SiteClass, { rsrp: number; sinr: number; users: number; rate: number; weekend: number }> = {
  urban: { rsrp: -84, sinr: 13, users: 140, rate: 95, weekend: 0.8 },
  suburban: { rsrp: -94, sinr: 15, users: 70, rate: 80, weekend: 0.95 },
  rural: { rsrp: -104, sinr: 17, users: 25, rate: 60, weekend: 1.05 },
};

export function siteName(index: number): string {
  return `SITE-${String(index + 1).padStart(3, '0')}`;
}

/**
 * Sector ids are numbered across the network (SITE-001 holds sectors 1-3, SITE-003 holds 7-9), the way
 * an operator's inventory numbers cells, so "sector 7" names one sector and not one per site.
 */
export function sectorProfiles(rng: Rng, sites: number, sectorsPerSite: number): SectorProfile[] {
  const profiles: SectorProfile[] = [];
  for (let s = 0; s < sites; s++) {
    const draw = rng.next();
    const siteClass: SiteClass = draw < 0.3 ? 'urban' : draw < 0.7 ? 'suburban' : 'rural';
    const level = CLASS_LEVELS[siteClass];
    const businessShare = siteClass === 'urban' ? rng.uniform(0.5, 0.8) : rng.uniform(0.2, 0.5);
    const cpuBasePct = rng.uniform(12, 22);
    for (let k = 0; k < sectorsPerSite; k++) {
      profiles.push({
        site: siteName(s),
        sector: String(s * sectorsPerSite + k + 1),
        siteClass,
        rsrpBaseDbm: level.rsrp + rng.normal(0, 3),
        sinrBaseDb: level.sinr + rng.normal(0, 1.5),
        peakUsers: level.users * rng.uniform(0.7, 1.3),
        peakRateMbps: level.rate * rng.uniform(0.8, 1.2),
        cpuBasePct,
        rsrpPhaseRad: rng.uniform(0, 2 * Math.PI),
        businessShare,
        weekendFactor: level.weekend * rng.uniform(0.95, 1.05),
      });
    }
  }
  return profiles;
}

function bump(hour: number, centre: number, width: number): number {
  let d = Math.abs(hour - centre);
  if (d > 12) d = 24 - d;
  return Math.exp(-0.5 * (d / width) ** 2);
}

/**
 * Expected load (0 to about 1) at an hour of the day: a night trough, a business bump around midday and a
 * residential peak in the evening, mixed by the sector's business share and scaled down at weekends.
 */
export function expectedLoad(profile: SectorProfile, hourOfDay: number, weekend: boolean): number {
  const business = bump(hourOfDay, 12.5, 3.2) * 0.9 + bump(hourOfDay, 9, 1.3) * 0.3;
  const residential = bump(hourOfDay, 20.5, 2.6) + bump(hourOfDay, 13, 4) * 0.3;
  const share = weekend ? profile.businessShare * 0.4 : profile.businessShare;
  const shape = share * business + (1 - share) * residential;
  const load = 0.08 + 0.85 * shape;
  return weekend ? load * profile.weekendFactor : load;
}

/** Shannon-like spectral efficiency, bit/s/Hz, used to turn SINR into throughput. */
export function spectralEfficiency(sinrDb: number): number {
  return Math.log2(1 + 10 ** (sinrDb / 10));
}
