// Public surface of access control. Other folders import from here only.
export { ACCESS_STATUS_BY_CODE, type AccessCode, type FieldError, type Refused } from './codes.js';
export { ROLES, PERMISSIONS, ROLE_PERMISSIONS, can, isRole, isPermission, type Role, type Permission } from './roles.js';
export { ROUTE_METHODS, API_ROUTES, declareRoutes, isReadMethod, type RouteDeclaration, type RouteMethod } from './routes.js';
